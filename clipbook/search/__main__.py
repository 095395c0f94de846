"""`python -m clipbook.search build|query ...`: the page-search command line (see clipbook.search.cli)."""
import sys

from .cli import main

sys.exit(main())
