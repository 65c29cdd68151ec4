"""The read API on the API port: ``app.make_api_app(store, settings, bus)`` builds the Quart app.

Routes live in ``routes/`` (one blueprint per resource), the access check in ``auth.py``, the wire
shapes in ``serialize.py`` and the query-parameter parsing in ``params.py``. Documented in
``docs/api.md``; ``nexus.client`` is its typed client.
"""
