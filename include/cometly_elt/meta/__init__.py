"""Meta ad accounts: connecting them (accounts.py) and extracting their tree and daily delivery (extract.py).

The Graph API's address lives here, light to import (the CLI's help shows it).
"""

# One constant for the version: every path is /{API_VERSION}/...
API_VERSION = "v25.0"
DEFAULT_BASE_URL = "https://graph.facebook.com"
