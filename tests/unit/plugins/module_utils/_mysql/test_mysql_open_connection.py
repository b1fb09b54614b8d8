"""_mysql/connect.open_connection: PyMySQL's preferred TLS on a context that skips the CA store, still preferred
(TLS when the server offers it, not required), and any other driver or an explicit TLS option left as given."""

import ssl
import types

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import open_connection


class FakeConn:
    def __init__(self, kwargs, preferred_mode=True):
        self.kwargs = kwargs
        self.connected = not kwargs.get("defer_connect")
        if preferred_mode:
            self._ssl_required = bool(kwargs.get("ssl"))  # PyMySQL: an ssl= given makes TLS required

    def connect(self):
        self.connected = True


def fake_driver(name="pymysql", preferred_mode=True):
    calls = []

    def connect(**kwargs):
        calls.append(kwargs)
        return FakeConn(kwargs, preferred_mode)

    return types.SimpleNamespace(__name__=name, connect=connect), calls


def test_pymysql_gets_a_context_without_the_ca_store_and_stays_preferred():
    driver, calls = fake_driver()
    conn = open_connection(driver, {"host": "127.0.0.1", "port": 3306})
    ctx = calls[0]["ssl"]
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 0  # the store was never loaded
    assert conn._ssl_required is False and conn.connected and len(calls) == 1


def test_explicit_tls_options_and_other_drivers_are_left_alone():
    driver, calls = fake_driver()
    open_connection(driver, {"host": "db", "ssl": {"ca": "/etc/ca.pem"}})
    assert calls == [{"host": "db", "ssl": {"ca": "/etc/ca.pem"}}]
    other, calls = fake_driver(name="fake_driver")
    open_connection(other, {"host": "db"})
    assert calls == [{"host": "db"}]


def test_a_pymysql_without_preferred_mode_connects_as_given():
    driver, calls = fake_driver(preferred_mode=False)
    conn = open_connection(driver, {"host": "db"})
    assert calls[-1] == {"host": "db"} and conn.connected
