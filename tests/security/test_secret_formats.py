"""Secrets as config files and code write them: a value with any punctuation in a .env, .properties, .ini or YAML
file; a name and its value apart (Kubernetes, Postman, Terraform); a password passed by position or to a setter;
vendors' documented token shapes; and the documented public examples that are never leaks.

Every sample is assembled at run time (this file must scan clean)."""

from __future__ import annotations

import base64
import re
import string
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from security_helpers import ALNUM, B64, HEX, discord_token, pem, rnd, write_config

from buildrunner.project import Project
from buildrunner.security import SecretScanner, mask_secrets
from buildrunner.security.rules import RuleSet, rules_for, ruleset, shannon_entropy
from buildrunner.security.settings import RuleSettings, SecuritySettings
from buildrunner.security.stream_masking import StreamMasker

PW = "Kq7Zp2mW" + "vL9xRt5Y"  # built here: a literal would be a secret in this file


def found(text: str, path: str | None = None, rules: RuleSet | None = None) -> list[tuple[str, str]]:
    """(rule id, secret) of each finding in `text`, read as the file `path`."""
    return [(h.rule.id, h.secret) for h in (rules or ruleset()).find(text.encode(), path)]


def ids(text: str, path: str | None = None) -> list[str]:
    return [rule for rule, _ in found(text, path)]


# --- 1. a value runs to the end of its line in .env, .properties, .ini and YAML files -------------------------------

PUNCTUATION = "!#$%&()*+,-./:;<=>?@[]^_{|}~'\"\\`"
# what the value filters take for a template, a placeholder or a regular expression, not a value
TEMPLATE = re.compile(r"\$\{|\{\{|\$\(|%\(|%\{|\{\d+\}|x{4}|X{4}|\*{3}|\.{3}|#{4}|^[<{\[].*[>}\]]$|^@.*@$|^ENC[\[(]|\\[dwsSbB]|\(\?[:=!<P]|\[[^\]]{1,40}\][+*?{]|\]\{\d|^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")

SAMPLE_WORDS = re.compile(r"example|placeholder|change[_-]?me|dummy|redacted|sample|replace[_-]?me|insert[_-]|your", re.IGNORECASE)


def _password(core: str) -> str:
    """A generated password: letters and digits (so it is not a word) with punctuation anywhere, random enough
    (`xxxx`, `${` and low-entropy strings are what the value filters are for)."""
    assume(not TEMPLATE.search(core) and not SAMPLE_WORDS.search(core) and shannon_entropy(core) >= 3.0)
    return core


passwords = st.text(alphabet=ALNUM + PUNCTUATION, min_size=10, max_size=24).map(lambda tail: "Qm7v" + tail).map(_password)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (".env", "DB_PASSWORD={pw}"),
        ("services/api/.env.production", "export SMTP_PASSWORD={pw}"),
        ("deploy/prod.env", "REDIS_PASS={pw}   # rotated in May"),  # dotenv: an unquoted ` #` starts a comment
        ("src/main/resources/application-prod.properties", "spring.datasource.password={pw}"),
        ("gradle.properties", "signing.password : {pw}"),
        ("config/app.ini", "password = {pw}"),
        ("setup.cfg", "[upload]\npassword={pw}"),
        ("config/application.yml", "spring:\n  datasource:\n    password: {pw}"),
        ("docker-compose.yaml", "services:\n  db:\n    environment:\n      - MYSQL_PASS: {pw}  # local"),
    ],
)
@given(pw=passwords)
def test_a_generated_password_is_found_whole_whatever_punctuation_it_holds(path: str, line: str, pw: str) -> None:
    """The reviewer's 40 random 16-character passwords: 1-8 of 40 found unquoted; cut at # or , or dropped for % $ ( )."""
    assume(not (path.endswith((".yml", ".yaml")) and pw.endswith(":")))
    assert found(line.format(pw=pw) + "\n", path) == [("password", pw)]


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (".env", "SESSION_SECRET={v}"),
        (".env.local", "DOPPLER_TOKEN_2={v}"),
        ("app.properties", "app.jwt.secret-key={v}"),
        ("settings.ini", "api_key = {v}"),
        ("values.yaml", "auth:\n  clientSecret: {v}"),
    ],
)
def test_a_named_secret_with_punctuation_is_found_whole(path: str, line: str) -> None:
    value = rnd(10) + "%)x" + rnd(6) + "#" + rnd(4)[:2] + "$"
    assert found(line.format(v=value) + "\n", path) == [("generic_secret", value)]


def test_each_format_follows_its_own_comment_rules() -> None:
    """dotenv: ` #` after a value starts a comment, `#` inside it does not; .properties and .ini: a comment is a line
    that starts with # ! or ;. A commented-out password is not a finding in any of them."""
    assert found(f"DB_PASSWORD={PW}#2 # old one\n", ".env") == [("password", PW + "#2")]
    assert found(f"db.password={PW}#2\n", "a.properties") == [("password", PW + "#2")]
    for path, comment in ((".env", "#"), ("a.properties", "#"), ("a.properties", "!"), ("a.ini", ";"), ("a.ini", "#"), ("a.yaml", "#")):
        assert found(f"{comment} password={PW}%1\n", path) == [], (path, comment)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (".env", "DB_PASSWORD=${DB_PASSWORD}"),
        (".env", "DB_PASSWORD=${DB_PASSWORD:-changeme}"),
        (".env.example", "DB_PASSWORD=changeme"),
        (".env.example", "DB_PASSWORD=<your-password>"),
        (".env.example", "STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxx"),
        (".env", "export GITHUB_TOKEN=$GITHUB_TOKEN"),
        (".env", "API_TOKEN=$(cat /run/secrets/api_token)"),
        (".env", "DB_PASSWORD_FILE=/run/secrets/db_password"),
        (".env", "PASSWORD_MIN_LENGTH=12"),
        (".env", "TOKEN_URL=https://auth.internal.test/oauth/token"),
        (".env", "DB_PASSWORD="),
        (".env", "DB_PASSWORD= # set in the vault"),
        (".env", "SECRET_NAME=prod-db-credentials"),
        ("a.properties", "spring.datasource.password=${DB_PASSWORD:}"),
        ("a.properties", "spring.datasource.password=ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)"),  # Jasypt
        ("a.properties", "app.jwt.secret=@jwt.secret@"),  # Maven resource filtering
        ("a.properties", "spring.mail.password=my secret phrase"),  # text with spaces, not a generated value
        ("a.ini", "password = %(db_password)s"),  # configparser interpolation
        ("a.yaml", "password: ${DB_PASSWORD}"),
        ("a.yaml", "password: !vault |"),
        ("a.yaml", "password: *db_password"),  # an alias
        ("a.yaml", "token: ${{ secrets.GH_TOKEN }}"),
        ("a.yaml", "secretName: db-credentials"),
        ("a.yaml", "password: ENC[AES256_GCM,data:Tr7o=,iv:1=,tag:2=,type:str]"),  # SOPS
        ("argocd-secret.yaml", "  webhook.github.secret: $webhook.github.secret2"),  # Argo CD's reference to another key
        ("hiera.yaml", "db_password: \"%{lookup('db::password')}\""),
        ("a.ini", "password = %{hiera('db_password_2')}"),
        ("values.yaml", "existingSecret: db-secret-v2"),
        ("a.yaml", "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: billing\n      key: DB_PASSWORD"),
    ],
)
def test_references_templates_and_settings_in_config_files_are_not_secrets(path: str, line: str) -> None:
    assert found(line + "\n", path) == [], line


def test_the_config_rules_run_only_on_their_files_and_not_on_text_of_no_known_file() -> None:
    """A Python line `password = a%b` is an expression; so is `DB_PASSWORD=x(y)` in a shell script. Masking a log,
    which is text of no known format, does not use them either."""
    line = f"DB_PASSWORD={PW}%y(z\n"
    assert ids(line, ".env") == ["password"]
    for path in ("run.sh", "settings.py", "notes.md", None, "<content>"):
        assert ids(line, path) == [], path
    assert ids(line, "caf\udcff/.env") == ["password"]  # a folder name that is not UTF-8
    assert mask_secrets(line) == line


def test_a_password_of_dotted_words_is_a_password_and_a_dotted_name_is_not() -> None:
    """`word.word.word` was dropped as an identifier even in quotes after a password."""
    dotted = "Kx9.vT3q." + "Lm8zR2"
    assert found(f'DB_PASSWORD = "{dotted}"') == [("password", dotted)]
    assert found(f"password: {dotted}\n", "a.yaml") == [("password", dotted)]
    for name in ("settings.API_KEY_NAME", "auth.login.password", "oauth2client.client.OAuth2Credentials", "self.s3_bucket.name"):
        assert found(f'token = "{name}"') == [], name


def test_a_doppler_service_token_names_its_config_between_dots() -> None:
    token = "dp.st." + "prd." + rnd(40)
    assert found(f"DOPPLER_TOKEN={token}\n", ".env") == [("doppler_token", token)]
    assert found(f'DOPPLER_TOKEN = "{"dp.st." + "dev_api." + rnd(44)}"')[0][0] == "doppler_token"


# --- 2. a name and its value apart, and passwords passed by position -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("deploy/k8s/api.yaml", "env:\n  - name: DB_PASSWORD\n    value: {q}{pw}{q}\n"),
        ("task-definition.json", '{{"environment": [{{"name": "SMTP_PASSWORD", "value": "{pw}"}}]}}'),  # ECS
        ("prod.postman_environment.json", '{{\n  "values": [\n    {{\n      "key": "password",\n      "value": "{pw}",\n      "type": "secret"\n    }}\n  ]\n}}'),
        ("infra/variables.tf", 'variable "db_password" {{\n  description = "Master password"\n  type = string\n  default = "{pw}"\n}}'),
        ("infra/helm.tf", 'set {{\n  name  = "auth.rootPassword"\n  value = "{pw}"\n}}'),  # helm_release in Terraform
        ("cfn.yaml", "Tags:\n  - Key: ADMIN_PASSWORD\n    Value: {pw}\n"),
    ],
)
def test_a_password_whose_name_and_value_are_apart_is_found(path: str, text: str) -> None:
    for quote in ('"', ""):
        assert ids(text.format(pw=PW, q=quote), path) == ["password"], (path, quote)


def test_an_aws_secret_key_in_a_kubernetes_env_list_is_an_aws_secret_key() -> None:
    key = rnd(40, ALNUM + "/+", seed=11)
    text = f"env:\n  - name: AWS_ACCESS_KEY_ID\n    value: AKIA{rnd(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}\n  - name: AWS_SECRET_ACCESS_KEY\n    value: {key}\n"
    assert found(text, "deployment.yaml")[1] == ("aws_secret_access_key", key)
    assert found('{"name": "AWS_SECRET_ACCESS_KEY", "value": "' + key + '"}', "task.json") == [("aws_secret_access_key", key)]


@pytest.mark.parametrize(
    "text",
    [
        '{"key": "password", "value": "{{password}}", "enabled": true}',
        '{"key": "password", "value": ""}',
        'variable "db_password" {\n  type      = string\n  sensitive = true\n}',
        'variable "db_password" {\n  default = ""\n}\nresource "x" "y" {\n  default = "Kq7Zp2mWvL9xRt5Y"\n}',
        "- name: DB_USER\n  value: app_user_2024\n- name: DB_PASSWORD\n  valueFrom: {secretKeyRef: {name: db, key: pw}}",
    ],
)
def test_name_value_pairs_without_a_literal_secret_are_not_findings(text: str) -> None:
    assert found(text, "x.json" if text.startswith("{") else "x.tf" if "variable" in text else "x.yaml") == [], text


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("define( 'DB_PASSWORD', '{pw}' );", "wp-config.php"),
        ('ds.setPassword("{pw}");', "Db.java"),
        ('dataSource.set_password("{pw}")', "db.py"),
        ('new PostgreSqlBuilder().WithPassword("{pw}").Build();', "Fixture.cs"),  # Testcontainers
        ('DataSourceBuilder.create().username("app").password("{pw}").build();', "Config.java"),
        ('Connection c = DriverManager.getConnection(URL, "billing", "{pw}");', "Export.java"),
        ('server.login("reports@acme.test", "{pw}")', "mail.py"),  # smtplib
        ("ftp.login('deploy', '{pw}')", "sync.py"),
        ('requests.get(url, auth=("admin", "{pw}"), timeout=5)', "client.py"),
        ('httpx.post(url, auth=httpx.BasicAuth("api", "{pw}"))', "client.py"),
        ('session.auth = HTTPBasicAuth("svc", "{pw}")', "client.py"),
        ("sshpass -p '{pw}' ssh root@10.0.0.5 uptime", "ops.sh"),
        ("sshpass -p{pw} scp dump.sql backup@nas:/srv", "ops.sh"),
        ("htpasswd -b -c /etc/nginx/.htpasswd admin {pw}", "setup.sh"),
        ("htpasswd -nbB admin '{pw}' > users", "setup.sh"),
    ],
)
def test_a_password_passed_by_position_or_to_a_setter_is_found(line: str, path: str) -> None:
    assert [s for _, s in found(line.format(pw=PW), path)] == [PW], line


@pytest.mark.parametrize(
    "line",
    [
        "ds.setPassword(password);",
        'ds.setPassword("");',
        "define('DB_PASSWORD', getenv('DB_PASSWORD'));",
        "server.login(user, password)",
        'requests.get(url, auth=("admin", os.environ["PW"]))',
        "user.check_password('hunter2hunter2')",  # a check, not a setting
        "resetPassword(\"a-reset-token-0001\")",
        'sshpass -p "$SSHPASS" ssh host',
        "sshpass -f ~/.sshpass ssh host",
        "htpasswd -B /etc/nginx/.htpasswd admin",  # prompts
        "define( 'AUTH_KEY', 'put your unique phrase here' );",  # wp-config-sample.php
    ],
)
def test_variables_look_ups_and_documented_samples_passed_the_same_ways_are_not_findings(line: str) -> None:
    assert found(line, "x.php") == [] and found(line, "x.sh") == [], line


def test_wordpress_keys_and_salts_and_defined_api_secrets_are_found() -> None:
    salt = "k" + rnd(20) + " |{<" + rnd(20) + "]~" + rnd(10)  # WordPress' generator uses spaces and punctuation
    text = f"define( 'AUTH_KEY',         '{salt}' );\ndefine( 'NONCE_SALT', '{salt[::-1]}' );\ndefine('STRIPE_API_SECRET', '{PW}');\n"
    assert [h for h, _ in found(text, "wp-config.php")] == ["generic_secret"] * 3


def test_environment_defaults_set_in_code_are_found() -> None:
    for line in ('os.environ.setdefault("API_KEY", "{v}")', 'os.putenv("API_TOKEN", "{v}")', 'System.setProperty("javax.net.ssl.keyStorePassword", "{v}");'):
        assert ids(line.format(v=PW + "Ab")) == ["environment_default_secret"], line


def test_docker_and_npm_auth_are_base64_of_user_and_password() -> None:
    auth = base64.b64encode(("ci-pusher:" + PW + "^x").encode()).decode()
    assert ids('{"auths": {"registry.acme.test": {"auth": "' + auth + '"}}}', ".docker/config.json") == ["basic_auth_base64"]
    assert ids(f"_auth = {auth}\n", ".npmrc") == ["basic_auth_base64"]
    assert ids(f'curl -H "Authorization: Basic {auth}" https://api.internal.test') == ["basic_auth_base64"]
    for plain in ("ci-pusher", "user:pass", "no colon at all in it", "admin:"):  # not user:password, or a sample word
        value = base64.b64encode(plain.encode()).decode()
        assert ids('{"auth": "' + value + '"}', "config.json") == [], plain
    assert ids('{"auth": "' + rnd(40, B64) + '"}', "config.json") == []  # random base64 decodes to no text


def test_a_twilio_token_after_an_account_sid_is_found_and_the_sid_is_not() -> None:
    sid, token = "AC" + rnd(32, HEX, seed=1), rnd(32, HEX, seed=2)
    for line in (f'client = Client("{sid}", "{token}")', f"const client = require('twilio')('{sid}', '{token}');"):
        assert found("from twilio.rest import Client\n" + line) == [("twilio_auth_token", token)], line
    assert found(f'lookup("{sid}", "{rnd(32, HEX, seed=3)}")') == []  # a file that is not about Twilio


# --- 3. vendors' documented shapes, found without a name nearby --------------------------------------------------


def test_a_discord_bot_token_is_found_by_its_shape_alone_and_a_look_alike_only_next_to_discord() -> None:
    real = discord_token()
    assert found(f'bot.run("{real}")') == [("discord_bot_token", real)]
    for bot_id in ("81384788765712384", "234395307759108106", "98765432109876543210"):  # 17 to 20 digits
        token = discord_token(bot_id)
        assert found(f"t = '{token}'") == [("discord_bot_token", token)], bot_id
    look_alike = "MT" + rnd(24) + "." + rnd(6) + "." + rnd(38)  # not the base64 of digits
    assert found(f"bot.login('{look_alike}');") == []
    assert found(f"import {{ Client }} from 'discord.js';\nbot.login('{look_alike}');") == [("discord_bot_token", look_alike)]


def test_vendor_shapes_need_their_exact_form() -> None:
    near_misses = [
        "NRAK" + "-" + rnd(20, string.ascii_uppercase),  # too short
        "ntn" + "_" + rnd(30),
        "whsec" + "_" + "short",
        "LT" + "AI" + "abc",
        "ATBB" + "-docs",
        "ATBB" + "_CONSTANT_NAME_FOR_THE_APP_PASSWORD_V2",
        "dt0c01" + "." + rnd(10),
        "sbp" + "_" + rnd(40, "ghijklmnop"),  # not hex
    ]
    for text in near_misses:
        assert found(f'x = "{text}"') == [], text


def test_a_github_refresh_token_is_longer_than_the_other_kinds() -> None:
    token = "ghr" + "_" + rnd(76)
    assert found(f'REFRESH = "{token}"') == [("github_token", token)]


def test_a_datadog_app_key_and_a_postmark_token_count_only_next_to_their_names() -> None:
    key, uuid = rnd(40, HEX, seed=12), f"{rnd(8, HEX)}-{rnd(4, HEX)}-4{rnd(3, HEX)}-a{rnd(3, HEX)}-{rnd(12, HEX)}"
    assert ids(f'provider "datadog" {{\n  api_key = var.dd\n  app_key = "{key}"\n}}', "main.tf") == ["datadog_app_key"]
    assert ids(f"DATADOG_APP_KEY={key}\n") == ["datadog_app_key"]
    assert ids(f'headers = {{"DD-APPLICATION-KEY": "{key}"}}') == ["datadog_app_key"]
    assert ids(f"commit: {key}\n") == []  # 40 hex alone is a commit
    assert ids(f"const client = new postmark.ServerClient('{uuid}');") == ["postmark_token"]
    assert ids(f"Postmark server token for the staging sender: `{uuid}`") == ["postmark_token"]
    assert ids(f"Postmark MessageID: {uuid}") == []  # an id
    assert ids(f"order_id = '{uuid}'") == []


def test_a_sentry_dsn_with_a_secret_key_is_found_and_a_public_dsn_is_not() -> None:
    """A DSN's public key is meant to be public; the deprecated form with a secret key is a credential in a URL."""
    public, secret = rnd(32, HEX, seed=21), rnd(32, HEX, seed=22)
    assert ids(f'SENTRY_DSN = "https://{public}@o123.ingest.sentry.io/456"') == []
    assert ids(f'SENTRY_DSN = "https://{public}:{secret}@o123.ingest.sentry.io/456"') == ["url_credentials"]


# --- 7. documented public examples, and what a mask shows ------------------------------------------------------------


def test_the_azurite_emulator_key_and_the_jwt_io_sample_are_not_leaks() -> None:
    azurite = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/" + "K1SZFPTOtr/KBHBeksoGMGw=="
    assert ids(f"UseDevelopmentStorage: DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;Account{'Key'}={azurite};") == []
    assert ids(f"AccountKey={rnd(86, B64)}==;") == ["azure_storage_key"]  # any other key still is one
    header, payload = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    for signature in ("SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", rnd(43, ALNUM + "_-")):  # jwt.io's, and signed with another key
        assert ids(f"Example token: `{header}.{payload}.{signature}`") == []
    other = base64.urlsafe_b64encode(b'{"sub":"svc-orders","iat":1735689600}').decode().rstrip("=")
    assert ids(f"Authorization: Bearer {header}.{other}.{rnd(43, ALNUM + '_-')}") == ["jwt"]


@pytest.mark.parametrize("kind", ["RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK"])
def test_a_private_keys_mask_says_what_was_found_and_shows_none_of_it(tmp_path: Path, kind: str) -> None:
    key = pem(kind)
    body = key.splitlines()[1:-1]
    (tmp_path / "id.pem").write_text("key:\n" + key + "\n")
    [match] = SecretScanner(Project(tmp_path)).scan_file(tmp_path / "id.pem")
    assert match.masked_value == f"-----BEGIN {kind}----- …"
    assert not any(line[:12] in match.masked_value + match.context for line in body)
    logged = mask_secrets("deploy key:\n" + key + "\ndone")
    assert f"-----BEGIN {kind}----- …" in logged and not any(line[:12] in logged for line in body)
    streamed = StreamMasker(ruleset())
    out = streamed.feed(("log\n" + key + "\nafter\n").encode()) + streamed.flush()
    assert f"-----BEGIN {kind}----- …" in out and not any(line[:12] in out for line in body)


def test_a_stream_holds_output_back_only_for_secrets_that_span_lines() -> None:
    """A rule whose regex merely excludes line breaks (`[^\\n|;&]`) matches on one line: output with its keywords
    ("password", "token", "login") is released at once, not held back for up to 16 KB."""
    assert set(ruleset().line_spanning_keywords) == {b"private key", b"service_account"}
    masker = StreamMasker(ruleset())
    assert masker.feed(b"POST /oauth/token: login ok, password rotated\n") == "POST /oauth/token: login ok, password rotated\n"
    assert not masker.holding


# --- the rule fields behind these: paths, decoded, mask_shows, for users' rules too -------------------------------------


def test_a_users_rule_may_name_the_files_it_reads_decode_base64_and_say_what_its_mask_shows(tmp_project: Path) -> None:
    rule = RuleSettings(
        id="acme_license",
        regex=r"(?m)^license=([A-Za-z0-9+/]{12,}=*)$",
        keywords=["license="],
        paths=[r"(?:^|/)acme\.conf$"],
        decoded=r"^ACME-[0-9]{4}:(\S{8,})$",
        mask_shows=r"^[A-Za-z0-9+/]{4}",
    )
    rules = ruleset(rules_for(SecuritySettings(rules=[rule])))
    value = base64.b64encode(("ACME-2024:" + PW).encode()).decode()
    assert found(f"license={value}\n", "etc/acme.conf", rules) == [("acme_license", value)]
    assert found(f"license={value}\n", "etc/other.conf", rules) == []
    assert found(f"license={base64.b64encode(b'not a license key').decode()}\n", "acme.conf", rules) == []
    write_config(tmp_project, rules=[rule.model_dump()])
    (tmp_project / "acme.conf").write_text(f"license={value}\n")
    [match] = SecretScanner(Project(tmp_project)).scan_file(tmp_project / "acme.conf")
    assert match.masked_value == value[:4] + " …"
    with pytest.raises(ValueError, match="RE2"):
        RuleSettings(id="bad", regex="x", paths=[r"(a)\1"])
