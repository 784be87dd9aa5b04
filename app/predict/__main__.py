"""`python -m app.predict`."""

import sys

from app.predict.cli import main

sys.exit(main())
