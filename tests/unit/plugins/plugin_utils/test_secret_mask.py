"""plugins/plugin_utils/secret_mask.py by value: URL and connection-string passwords, credential environment
variables, a credential found under one name masked everywhere else, and what must be kept as it is."""

import threading

import pytest

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.secret_mask import (
    MASK, SecretMasker, credentials_in, is_credential_env, url_password_spans)


@pytest.mark.parametrize("url, password", [
    ("postgresql://mcpops:Pg-Secret_42@127.0.0.1:5432/gateway", "Pg-Secret_42"),
    ("postgres://u:p%40ss%2Fw0rd@db.internal/db?sslmode=require", "p%40ss%2Fw0rd"),
    ("mysql://root:My$ql!pw@10.0.0.5:3306/erp", "My$ql!pw"),
    ("mysql+pymysql://app:hunter2hunter2@mysql/app", "hunter2hunter2"),
    ("redis://:RedisOnlyPass@127.0.0.1:6379/0", "RedisOnlyPass"),
    ("rediss://default:tls-redis-pw@cache:6380", "tls-redis-pw"),
    ("https://deploy:gh-pat-123456@git.example.invalid/org/repo.git", "gh-pat-123456"),
    ("amqp://guest:rabbit:colon@mq:5672/", "rabbit:colon"),
    ("mongodb+srv://admin:M0ng0pw@cluster0.example.invalid/test", "M0ng0pw"),
    ("http://proxyuser:pr0xy-pw@proxy.example.invalid:3128", "pr0xy-pw"),
])
def test_url_passwords_are_found_and_masked_in_every_scheme(url, password):
    assert credentials_in(url) == [password]
    text = "connecting to %s failed" % url
    masked = SecretMasker().text(text)
    assert password not in masked
    assert masked == text.replace(password, MASK)  # the user, host and database stay readable


def test_several_urls_in_one_value_each_lose_their_password():
    value = "redis://:first-pw@h1:6379,redis://:second-pw@h2:6379 postgresql://u:third-pw@h3/db"
    assert credentials_in(value) == ["first-pw", "second-pw", "third-pw"]
    assert SecretMasker().text(value) == ("redis://:%s@h1:6379,redis://:%s@h2:6379 postgresql://u:%s@h3/db"
                                          % (MASK, MASK, MASK))


def test_a_url_inside_another_urls_query_still_loses_its_password():
    value = "https://sso.example.invalid/login?next=postgresql://u:nested-pw@db/x"
    assert credentials_in(value) == ["nested-pw"]


@pytest.mark.parametrize("conninfo, password", [
    ("host=127.0.0.1 port=5432 user=mcpops password=Conn1nfo-pw dbname=gateway", "Conn1nfo-pw"),
    ("host=db password='with space pw' user=x", "with space pw"),
    ("Server=sql;Database=erp;User Id=sa;Password=Odbc-Pw-9;", "Odbc-Pw-9"),
    ("https://api.example.invalid/v1?user=x&password=QueryPw-7&page=2", "QueryPw-7"),
])
def test_connection_string_passwords_are_found_and_masked(conninfo, password):
    assert credentials_in(conninfo) == [password]
    assert password not in SecretMasker().text(conninfo)


@pytest.mark.parametrize("text", [
    "https://gateway.example.invalid:8443/api/system/backups",  # a port, no user, no password
    "https://user@git.example.invalid/org/repo.git",  # a user, no password
    "ssh://git@github.com:22/org/repo.git",
    "git@github.com:org/repo.git",
    "postgresql://127.0.0.1/gateway",
    "redis://cache:6379/0",
    "/var/lib/onec-mcp-gateway/backups/20261123T020000Z-a1b2c3/manifest.json",
    "/usr/local/bin:/usr/bin:/bin",
    "PWD=/work/main OLDPWD=/root",
    "password_file=/root/.pgpass",  # names a file, it is not one
    "mailto:ops@example.invalid",
    "scheme://" + "z" * 5000,  # no '@' anywhere: nothing, and quickly
])
def test_what_is_not_a_password_is_kept(text):
    assert credentials_in(text) == []
    assert SecretMasker().text(text) == text


@pytest.mark.parametrize("name", [
    "PGPASSWORD", "MYSQL_PWD", "REDISCLI_AUTH", "REDIS_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "ANSIBLE_VAULT_PASSWORD", "ANSIBLE_BECOME_PASS", "GITHUB_TOKEN", "GH_TOKEN", "VAULT_TOKEN", "SSHPASS",
    "ONEC_MCP_HTTP_TOKEN", "AZURE_CLIENT_SECRET", "DJANGO_SECRET_KEY", "OPENAI_API_KEY", "STRIPE_APIKEY",
    "GOOGLE_APPLICATION_CREDENTIALS", "ERP_PASSPHRASE", "KEYCLOAK_CLIENT_SECRET", "github_token",
])
def test_credential_variables_by_name(name):
    assert is_credential_env(name, "anything")


@pytest.mark.parametrize("name, value", [
    ("PWD", "/work/main"), ("OLDPWD", "/root"), ("PGPASSFILE", "/root/.pgpass"), ("PGSERVICE", "gateway"),
    ("PGHOST", "db.internal"), ("PGUSER", "mcpops"), ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
    ("AWS_DEFAULT_REGION", "eu-west-1"), ("ANSIBLE_VAULT_PASSWORD_FILE", "/root/.vault_pass"),
    ("ONEC_MCP_HTTP_TOKEN_FILE", "/etc/onec/admin_token"), ("SSH_AUTH_SOCK", "/tmp/ssh-abc/agent.1"),
    ("GIT_ASKPASS", "/usr/lib/git-core/git-gui--askpass"), ("HOME", "/root"), ("PATH", "/usr/bin:/bin"),
    ("ANSIBLE_PRIVATE_KEY_FILE", "/root/.ssh/id_ed25519"), ("GPG_KEY", "/root/.gnupg/key.asc"),
    ("SORT_KEY", "createdAt"), ("MCPOPS_LAB_DIR", "/tmp/lab"),
])
def test_what_is_not_a_credential_variable(name, value):
    assert not is_credential_env(name, value)


def test_a_key_variable_with_a_random_value_is_a_credential():
    assert is_credential_env("LICENSE_KEY", "k7Qz9XwP2mR4vB8n")
    assert is_credential_env("HMAC_KEY", "9f2c4e6a8b0d1f3e5a7c9b2d4f6e8a0c")
    assert not is_credential_env("LICENSE_KEY", "community")


def test_an_environment_is_recorded_masked_and_its_credentials_masked_wherever_they_occur():
    environ = {
        "PGPASSWORD": "CanaryPg-1a2b3c",
        "DATABASE_URL": "postgresql://mcpops:CanaryUrl-4d5e6f@127.0.0.1:5432/gateway",
        "MYSQL_PWD": "CanaryMy-777",
        "REDISCLI_AUTH": "CanaryRedis-88",
        "AWS_SECRET_ACCESS_KEY": "CanaryAws/99+x",
        "PGOPTIONS": "-c application_name=CanaryPg-1a2b3c",  # a copy under an ordinary name
        "BACKUP_DSN": "host=db password=CanaryDsn-5 user=x",
        "HOME": "/root",
        "PWD": "/work/main",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "MCPOPS_LAB_DIR": "/tmp/lab",
        "EMPTY_TOKEN": "",
    }
    masker = SecretMasker()
    names = masker.add_environment(environ)
    assert set(names) == {"PGPASSWORD", "DATABASE_URL", "MYSQL_PWD", "REDISCLI_AUTH", "AWS_SECRET_ACCESS_KEY",
                          "BACKUP_DSN"}
    recorded = masker.environment(environ)
    assert recorded == dict(
        environ, PGPASSWORD=MASK, MYSQL_PWD=MASK, REDISCLI_AUTH=MASK, AWS_SECRET_ACCESS_KEY=MASK,
        DATABASE_URL="postgresql://mcpops:%s@127.0.0.1:5432/gateway" % MASK,
        PGOPTIONS="-c application_name=%s" % MASK, BACKUP_DSN="host=db password=%s user=x" % MASK)
    # Elsewhere: a command line, a message, a JSON dump of the environment.
    line = "ansible-playbook -e pw=CanaryPg-1a2b3c --limit CanaryMy-777 # CanaryAws/99+x CanaryUrl-4d5e6f"
    assert masker.text(line) == "ansible-playbook -e pw=%s --limit %s # %s %s" % (MASK, MASK, MASK, MASK)
    assert masker.replace_known(line) == masker.text(line)
    for canary in ("CanaryPg-1a2b3c", "CanaryUrl-4d5e6f", "CanaryMy-777", "CanaryRedis-88", "CanaryAws/99+x",
                   "CanaryDsn-5"):
        assert canary in masker.known_values()


def test_a_percent_encoded_url_password_is_masked_as_written_and_as_decoded():
    masker = SecretMasker()
    masker.add_environment({"DATABASE_URL": "postgresql://u:p%40ss%2Fw0rd@db/x"})
    assert masker.replace_known("p%40ss%2Fw0rd and p@ss/w0rd") == "%s and %s" % (MASK, MASK)


def test_common_words_under_a_credential_name_are_masked_in_place_only():
    masker = SecretMasker()
    environ = {"REDIS_AUTH": "none", "FEATURE_TOKEN": "true", "PGPASSWORD": "pw"}
    masker.add_environment(environ)
    assert masker.environment(environ) == {"REDIS_AUTH": MASK, "FEATURE_TOKEN": MASK, "PGPASSWORD": MASK}
    assert masker.replace_known("changed: true, skip_reason: none, pw") == "changed: true, skip_reason: none, pw"


def test_an_environment_recorded_masked_already_adds_nothing():
    masker = SecretMasker()
    masker.add_environment({"PGPASSWORD": MASK, "DATABASE_URL": "postgresql://u:%s@db/x" % MASK})
    assert masker.known_values() == []


def test_secret_extra_vars_are_still_masked_whatever_their_value():
    masker = SecretMasker(["changeme", "true-ish-secret"])
    assert masker.text("salt changeme and true-ish-secret") == "salt %s and %s" % (MASK, MASK)


def test_the_url_scan_is_linear_on_hostile_text():
    """Many '://' and long runs of scheme characters without an '@' (or with one at the far end) finish quickly;
    a hang fails the test through the thread's bound, not through a timing assertion."""
    hostile = ["a" * 200000 + "://", "x://" * 50000, "x://u:" * 30000 + "@", ("q" * 31 + "://y:") * 10000 + "@z"]
    results = {}

    def scan():
        results["spans"] = [url_password_spans(text) for text in hostile]

    worker = threading.Thread(target=scan, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the URL scan did not finish"
    assert results["spans"][0] == [] and results["spans"][1] == []
    assert len(results["spans"][2]) == 1 and len(results["spans"][3]) == 1
