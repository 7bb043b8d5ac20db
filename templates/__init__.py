"""Message wording per language, and the HTML pages."""
