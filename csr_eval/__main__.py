import sys

from csr_eval.cli import main

sys.exit(main())
