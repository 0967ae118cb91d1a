"""Durable records; imports only core/: the SQLite journal and the model catalog.

``journal`` is the front (``Journal``); its parts are ``entries`` (the values), ``db``
(connections and transactions), ``changes`` (what each write changes, checked against
``core.states.TRANSITIONS``), ``query`` (filtered reads) and ``schema`` (tables and
migrations). ``catalog`` holds what is documented about each model.
"""
