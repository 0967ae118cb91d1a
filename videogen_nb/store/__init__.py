"""Durable records; imports only core/: the SQLite journal (and its schema) and the model catalog."""
