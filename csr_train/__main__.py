import sys

from csr_train.cli import main

sys.exit(main())
