"""Each shipped rule finds its kind of secret; placeholders, examples and lookups are not findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from security_helpers import ALNUM, HEX, rnd, samples, write_config

from buildrunner.security.rules import rules_for, ruleset, shipped_rules
from buildrunner.security.settings import RuleSettings, SecuritySettings


def found(text: str) -> list[str]:
    return [h.rule.id for h in ruleset().find(text.encode())]


@pytest.mark.parametrize("rule_id", sorted(samples()))
def test_each_rule_finds_its_secret(rule_id: str) -> None:
    assert found(samples()[rule_id]) == [rule_id]


def test_every_kind_the_issue_lists_has_a_rule() -> None:
    ids = {r.id for r in shipped_rules()}
    assert set(samples()) <= ids


@pytest.mark.parametrize(
    "text",
    [
        'api_key = "your-api-key-here"',
        'OPENAI_API_KEY = "sk-' + 'proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
        'token = "<token>"',
        'token = "${GITHUB_TOKEN}"',
        'password = "changeme"',
        'password: "{{ vault_password }}"',
        'aws_access_key_id = AKIA' + 'IOSFODNN7EXAMPLE',
        'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY' + 'EXAMPLEKEY',
        'password = os.environ["DB_PASSWORD"]',
        'token = os.getenv("API_TOKEN")',
        "const key = process.env.STRIPE_SECRET_KEY;",
        'password = settings.DATABASE_PASSWORD',
        'token_hash = "' + "d41d8cd98f00b204e9800998ecf8427e" + '"',
        'secret_id = "123e4567-e89b-12d3-a456-426614174000"',
        'api_key_header = "X-Api-Key-Header-Name"',
        'password_field = "password_confirmation"',
        'DATABASE_URL = "postgresql://user:password@localhost/db"',
        'REDIS_URL = "redis://:${REDIS_PASSWORD}@cache:6379/0"',
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
        'url = "mysql://scott:tiger@db.example.com/app"',
        'dsn = f"postgresql://app:{password}@db.internal/app"',
        "password: '" + "bm90IGEgcGFzc3dvcmQ=" + "',",
        "token = r\"[-!#$%&'*+.^_`|~0-9a-zA-Z]+\"",
        "password = r'([a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{12})'",
    ],
)
def test_placeholders_examples_and_lookups_are_not_findings(text: str) -> None:
    assert found(text) == []


def test_multi_line_private_key_is_one_finding_spanning_its_lines() -> None:
    text = "x = 1\n" + samples()["private_key"] + "\ny = 2\n"
    hits = ruleset().find(text.encode())
    assert [h.rule.id for h in hits] == ["private_key"]
    assert text[hits[0].start : hits[0].end].count("\n") >= 8


def test_specific_rule_wins_over_generic_for_the_same_value() -> None:
    text = 'api_key = "' + "sk-" + "ant-api03-" + rnd(40) + '"'
    assert found(text) == ["anthropic_key"]


def test_user_rules_from_config_are_added_and_shipped_ones_can_be_disabled() -> None:
    settings = SecuritySettings(
        rules=[RuleSettings(id="acme_token", regex=r"\b(acme_[A-Za-z0-9]{24})\b", keywords=["acme_"], entropy=3.0)],
        disabled_rules=["jwt"],
    )
    rs = ruleset(rules_for(settings))
    assert [h.rule.id for h in rs.find(("t = acme_" + rnd(24)).encode())] == ["acme_token"]
    assert rs.find(samples()["jwt"].encode()) == []


def test_a_user_rule_may_keep_values_not_a_value_would_drop() -> None:
    """rules.toml documents `keep` for a rule; a user rule of the same shape refused it as an unknown key."""
    plain = RuleSettings(id="badge_code", regex=r"badge_code\s*=\s*'([A-Za-z]{8,})'", keywords=["badge_code"], generic=True)
    kept = plain.model_copy(update={"keep": ["^[A-Z]{8,}$"]})
    line = b"badge_code = 'QWERTYUIOPAS'"
    assert ruleset(rules_for(SecuritySettings(rules=[plain]))).find(line) == []  # letters alone: a word
    assert [h.rule.id for h in ruleset(rules_for(SecuritySettings(rules=[kept]))).find(line)] == ["badge_code"]


def test_disabling_a_rule_id_that_does_not_exist_is_a_config_error_not_a_rule_left_on(run_br, tmp_project: Path) -> None:
    """Found when the config is read, by every command (`config show` too), naming the file and the likely id."""
    write_config(tmp_project, disabled_rules=["jwt", "jwtt"])
    for args in (("config", "show"), ("security", "scan"), ("telemetry", "summary")):
        r = run_br(*args)
        assert r.returncode == 2, args
        assert f"{tmp_project / '.buildrunner' / 'config.json'}: security.disabled_rules: 'jwtt' is not a shipped rule id; did you mean 'jwt'?" in r.stderr
        assert "Traceback" not in r.stderr


def test_a_user_regex_re2_cannot_run_is_a_config_error() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="RE2"):
        RuleSettings(id="bad", regex=r"(a)\1")


def test_generic_assignment_needs_entropy() -> None:
    assert found('secret = "aaaaaaaaaaaa1"') == []
    assert found('secret = "' + rnd(14, ALNUM) + '"') == ["generic_secret"]


@pytest.mark.parametrize(
    "line",
    [
        "db:\n  password: {pw}\n",  # YAML, unquoted, with punctuation
        "DB_PASSWORD={pw}\n",  # .env
        "spring.datasource.password={pw}\n",  # .properties
        "[db]\npassword = {pw}\n",  # .ini
        '{{"password": "{pw}"}}',  # JSON
        'connect(user="app", password="{pw}")',  # code, short
    ],
)
def test_people_made_passwords_are_found_in_config_files(line: str) -> None:
    for pw in (rnd(4) + "&" + rnd(5), rnd(7) + "!", rnd(3) + "@" + rnd(5) + "#1"):
        assert found(line.format(pw=pw)) == ["password"], line.format(pw=pw)


@pytest.mark.parametrize(
    "line",
    [
        "password_policy: strong-2024",
        "PASSWORD_MIN_LENGTH = 12",
        'password_reset_url = reverse("password_reset")',
        'password = self.cleaned_data.get("password1")',
        "password: ${{ secrets.DB_PASSWORD }}",
        "password=args.password",
        'password = "aaaaaaaa"',
        "pwd=$(pwd)",
    ],
)
def test_settings_about_passwords_and_look_ups_are_not_passwords(line: str) -> None:
    assert found(line) == []


@pytest.mark.parametrize("kind", ["RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK"])
def test_private_key_kinds(kind: str) -> None:
    from security_helpers import pem

    assert found(pem(kind)) == ["private_key"]
    as_python_string = '"' + pem(kind).replace("\n", '\\n"\n"') + '"'
    assert found(as_python_string) == ["private_key"]


@pytest.mark.parametrize("scheme", ["postgres", "postgresql+psycopg", "mysql", "mongodb+srv", "redis", "rediss", "amqp", "amqps"])
def test_database_and_broker_urls(scheme: str) -> None:
    assert found(f"URL = '{scheme}://svc:{rnd(18)}@host.internal:1234/x'") == ["database_url"]


@pytest.mark.parametrize(
    "line",
    [
        'app.config["SECRET_KEY"] = "{v}"',  # Flask's own idiom
        'os.environ["OPENAI_API_KEY"] = "{v}Ab"',
        "settings['api_key'] = '{v}'",
        'api_key: str = "{v}"',  # a pydantic-settings default
        'db_password: str | None = "{p}"',
        'const apiKey: string = "{v}";',
        'DB_PASS = "{p}"',
        "SMTP_PASS={p}",
        "Server=db01;User Id=sa;Pass" + "word={p}(x)Y;",  # parentheses in a connection string's password
    ],
)
def test_common_ways_of_writing_a_secret_are_found(line: str) -> None:
    """Subscripts, type annotations and `_PASS` names: detect-secrets finds these; they were missed."""
    text = line.format(v="Kq7Zp2mW" + "vL9xRt5Yp3Nb", p="Lm4Qz9" + "Tx2Kw")  # built here: this file must scan clean
    assert found(text), text


@pytest.mark.parametrize(
    "line",
    [
        'password_change_template = "custom_admin/password_change_form.html"',  # Django admin
        "const user = req.user; const password = hashPassword(req.body.pw);",
        "bypass_token_check = True",
        "compass_token_count: int = 5",
        "self.token: Optional[str] = None",
        'CWE = {"secret": "external/cwe/cwe-798", "sql": "external/cwe/cwe-89"}',  # a lower-case path or id
        "try_except_pass = bandit.plugins.try_except_pass:try_except_pass",  # an entry point
        "HEROKU_APP_ID=9a425bce-fffe-4d16-838f-b95e837547af",  # an app's id, not an API key
        "png = 'iVBORw0KGgo/EAAAAAAB" + "A" * 120 + "Ck1x'",  # base64 data, not a Facebook token
    ],
)
def test_names_calls_and_file_names_are_not_secrets(line: str) -> None:
    assert found(line) == [], line


@pytest.mark.parametrize(
    "line",
    [
        'requests.get(f"https://api.search.test/v2?q={{query}}&access_token={v}")',
        "curl 'https://hooks.ops.test/deploy?token={v}&env=prod'",
        "<jdbc><user>app</user><password>{p}X9</password></jdbc>",
        '<property name="x"><apiKey type="string">{v}</apiKey></property>',
        '<add key="Stripe:ApiKey" value="{v}" />',  # .NET appSettings (web.config)
    ],
)
def test_keys_in_urls_and_markup_are_found(line: str) -> None:
    """gitleaks and detect-secrets read a URL's query and XML elements; a pasted feed URL or a settings.xml leaked."""
    text = line.format(v="Kq7Zp2mW" + "vL9xRt5Yp3Nb", p="Lm4Qz9" + "Tx2Kw")  # built here: this file must scan clean
    assert found(text), text


@pytest.mark.parametrize(
    "line",
    [
        'url = f"https://api.search.test/v2?q={query}&access_token={token}"',  # a template
        "https://api.weather.test/v1?api_key=YOUR_API_KEY_HERE",
        "https://app.test/reset?token=${RESET_TOKEN}",
        "<password>${db.password}</password>",  # a property reference
        "<password>{COQLCE6DU6GtcS5P=}</password>",  # Maven's encrypted form
        '<add key="SmtpHost" value="smtp.mail.internal.test" />',  # a setting that is not a secret
        "<tokenizer>whitespace_tokenizer_v2</tokenizer>",
    ],
)
def test_templates_references_and_other_settings_in_urls_and_markup_are_not_secrets(line: str) -> None:
    assert found(line) == [], line


@pytest.mark.parametrize(
    "line",
    [
        '<property name="hibernate.connection.password">{p}X9</property>',  # Hibernate
        '<property name="password" value="{p}X9"/>',  # Spring
        "<entry key='db.password'>{p}X9</entry>",
        '<string name="api_secret">{v}</string>',  # Android strings.xml
        "<add key='Payments:ApiKey' value='{v}'/>",
        "https://files.test/share?sv=2021-08-06&sig={v}%2B{v}%3D",  # an Azure SAS signature
        "https://api.test/v1?token={v}QQ==",  # base64 with its padding
    ],
)
def test_named_settings_in_markup_and_padded_or_signed_url_values_are_found(line: str) -> None:
    """A reviewer's misses: the keyword in an attribute rather than the tag, `=` padding, a SAS `sig`."""
    text = line.format(v="Kq7Zp2mW" + "vL9xRt5Yp3Nb", p="Lm4Qz9" + "Tx2Kw")  # built here: this file must scan clean
    assert found(text), text


@pytest.mark.parametrize(
    "line",
    [
        "<password>@db.password@</password>",  # a Maven filter token
        '<string name="password_hint">Enter your password</string>',  # prose between the tags
        '<string name="reset_password_title">ResetPassword</string>',
    ],
)
def test_cursors_filter_tokens_and_prose_in_markup_are_not_secrets(line: str) -> None:
    assert found(line) == [], line


def test_a_pagination_cursor_is_not_a_key_in_a_url() -> None:
    """The URL rule names its parameters exactly (pageToken= is a cursor); the catch-all reads names as gitleaks does."""
    for url in ("https://api.test/v1/items?pageToken=CiAKGjBpNDd2Nmp2Zml2cXRwYjBp", "https://api.test/v1?nextToken=eyJvZmZzZXQiOjEwMH0xMjM0"):
        assert "url_query_secret" not in found(url), url


@pytest.mark.parametrize(
    "line",
    [
        "FLASK_SECRET_KEY={h64}",  # secrets.token_hex(), as Flask's docs say to make one
        "production:\n  secret_key_base: {h128}",  # Rails
        'GITHUB_CLIENT_SECRET = "{h40}"',
        "SLACK_SIGNING_SECRET={h32}",
        '"encryption_key": "{h64}",',
    ],
)
def test_hex_secrets_named_as_secrets_are_found(line: str) -> None:
    """A hex value is a digest only when its name does not say secret, token or key."""
    text = line.format(h32=rnd(32, HEX, seed=3), h40=rnd(40, HEX, seed=4), h64=rnd(64, HEX, seed=5), h128=rnd(128, HEX, seed=6))
    assert found(text) == ["hex_secret"], text


@pytest.mark.parametrize(
    "line",
    [
        'token_hash = "{h64}"',  # a digest of a token
        'page_token = "{h32}"',  # cursors: hex, but no secret
        '"continuationToken": "{h64}"',
        'resume_token = "{h64}"',
        'api_key_sha256: "{h64}"',
        'signing_key_id = "{h32}"',  # an id
        'sha256 = "{h64}"',
        '"nextSequenceToken": "49542672486831074009579604567656788214806863282469607346"',  # digits: a sequence number
        '"password": "pbkdf2_sha256$600000$kF3xQ9mZ2pL7wR4t$Zq8sXcNOPmeMjvqP1hJ7kL9mQ2aB3cD4eF5gH6iJ7kE="',  # Django's fixture
        'password_hash = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"',
        '"password": "$2b$12$KIXQJ5Zs0mYl9mQ2aB3cD4eF5gH6iJ7kLmNoPqRsTuVwXyZ012345"',  # bcrypt
        "userPassword: {{SSHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",  # LDAP
    ],
)
def test_digests_ids_and_password_hashes_are_not_secrets(line: str) -> None:
    text = line.format(h32=rnd(32, HEX, seed=7), h64=rnd(64, HEX, seed=8))
    assert found(text) == [], text


def test_an_aws_secret_key_in_the_clis_json_is_an_aws_secret_key() -> None:
    """`aws iam create-access-key` prints SecretAccessKey: reported as what it is (high), not a medium catch-all."""
    text = '{"AccessKey": {"UserName": "ci", "AccessKeyId": "AKIA' + rnd(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", seed=9) + '",\n "SecretAccessKey": "' + rnd(40, ALNUM + "/+", seed=10) + '"}}'
    assert found(text) == ["aws_access_key_id", "aws_secret_access_key"]
