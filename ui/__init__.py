"""Streamlit-only glue shared by the pages: process-wide resources and common widgets."""
