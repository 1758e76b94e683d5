"""STARTTLS and implicit TLS with a login, against aiosmtpd on loopback with a throw-away
certificate for 127.0.0.1 issued by a throw-away CA (trustme); the client verifies it against that CA."""
from __future__ import annotations

import ssl

import pytest

from surveyapp import mail

from console_helpers import SECRET, round_id_of, running_smtp_server, smtp_settings


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """(server certificate chain, its key, the CA that signed it) as PEM files."""
    import trustme

    folder = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    issued.private_key_pem.write_to_path(str(folder / "key.pem"))
    for index, blob in enumerate(issued.cert_chain_pems):
        blob.write_to_path(str(folder / "cert.pem"), append=index > 0)
    authority.cert_pem.write_to_path(str(folder / "ca.pem"))
    return folder / "cert.pem", folder / "key.pem", folder / "ca.pem"


class Logins:
    def __init__(self):
        self.seen = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.seen.append((auth_data.login.decode(), auth_data.password.decode(), server.transport.get_extra_info("ssl_object") is not None))
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"survey", b"smtp-secret"))


@pytest.fixture
def trust(certificate, monkeypatch):
    """The client trusts the test certificate (and nothing else), still checking the host name."""
    _, _, authority = certificate
    real = ssl.create_default_context
    monkeypatch.setattr(mail.ssl, "create_default_context", lambda *a, **k: real(cafile=str(authority)))


def server_context(certificate) -> ssl.SSLContext:
    cert, key, _ = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS: the connection is TLS
@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_with_login_delivers(cdb, certificate, mode, trust):
    logins = Logins()
    options = {"tls_context": server_context(certificate), "require_starttls": True} if mode == "starttls" \
        else {"ssl_context": server_context(certificate), "auth_require_tls": False}  # the whole connection is TLS
    with running_smtp_server(authenticator=logins, auth_required=True, **options) as server:
        settings = {**smtp_settings(server), "SMTP_TLS": mode, "SMTP_USER": "survey", "SMTP_PASSWORD": "smtp-secret"}
        result = mail.send(cdb, round_id_of(cdb), "invitation", settings, SECRET, actor="tester")
        assert (result["sent"], result["failed"]) == (5, 0), result["failed_rows"][0]["error"] if result["failed_rows"] else ""
        assert len(server.messages) == 5
        assert logins.seen == [("survey", "smtp-secret", True)]  # one login, over TLS, for the whole batch


def test_an_untrusted_certificate_is_refused(cdb, certificate):
    with running_smtp_server(ssl_context=server_context(certificate)) as server:
        settings = {**smtp_settings(server), "SMTP_TLS": "ssl"}
        result = mail.send(cdb, round_id_of(cdb), "invitation", settings, SECRET, actor="tester")
        assert (result["sent"], result["failed"]) == (0, 5) and server.messages == []
        assert all("CERTIFICATE_VERIFY_FAILED" in r["error"] for r in cdb.query("SELECT error FROM mails"))
