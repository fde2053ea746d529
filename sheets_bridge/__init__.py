"""sheets-bridge: fix an image dataset together in a spreadsheet.

Importing this package is cheap: torch, gspread and Flask load only in the modules that use them.
"""

__version__ = "0.1.0"
