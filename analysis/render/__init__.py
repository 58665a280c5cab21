"""Presentation of the report, no statistics: the document blocks sections produce, the figures' one
journal style and the plots drawn in it, and the renderers (HTML, Markdown, PDF) that turn a document
into files."""
