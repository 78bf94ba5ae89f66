"""fitclient: mixfit's Python REST client (``fitclient.client``) and its ``mixfit`` command line
(``fitclient.cli``; ``python -m fitclient``).

It speaks HTTP to a mixfit server or calls ``mixfit`` in this process; it imports ``mixfit`` and
never the service, the workers, their contract package, Flask or RQ.
"""
