"""csr_eval: model runner, reference-exact benchmark scorers, results store and the csr-eval command."""

__version__ = "0.1.0"
