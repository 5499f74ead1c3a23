"""CommBox Ticket Console core: everything but the Streamlit pages.

Importable without Streamlit. See README.md for the data flow.
"""

__version__ = "0.1.0"
