"""Fake secrets for the security tests, built at run time.

Nothing secret-looking is written in this repository: every sample is assembled
from a prefix and pseudo-random characters when the tests run.
"""

from __future__ import annotations

import base64
import json
import os
import random
import string
import textwrap
from pathlib import Path
from typing import Any

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"


def rnd(n: int, alphabet: str = ALNUM, seed: int = 7) -> str:
    """Deterministic high-entropy text."""
    r = random.Random(f"{seed}-{n}-{alphabet}")
    return "".join(r.choice(alphabet) for _ in range(n))


def pem(kind: str = "RSA PRIVATE KEY", lines: int = 8) -> str:
    body = "\n".join(rnd(64, B64, seed=i) for i in range(lines))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


def samples() -> dict[str, str]:
    """rule id -> a line of code holding one secret of that kind."""
    return {
        "anthropic_key": f'ANTHROPIC_API_KEY = "{"sk-" + "ant-api03-" + rnd(40, ALNUM + "_-")}"',
        "openai_key": f'client = OpenAI(api_key="{"sk-" + "proj-" + rnd(48)}")',
        "openrouter_key": f'OPENROUTER = "{"sk-" + "or-v1-" + rnd(64, HEX)}"',
        "aws_access_key_id": f'aws_access_key_id = {"AKIA" + rnd(16, string.ascii_uppercase + "234567")}',
        "aws_secret_access_key": f'aws_secret_access_key = {rnd(40, B64)}',
        "hex_secret": f'FLASK_SECRET_KEY = "{rnd(64, HEX)}"',
        "github_token": f'GH = "{"ghp_" + rnd(36)}"',
        "github_fine_grained_token": f'GH = "{"github_" + "pat_" + rnd(22) + "_" + rnd(59)}"',
        "gitlab_token": f'GL = "{"glpat-" + rnd(20)}"',
        "slack_token": f'SLACK = "{"xoxb-" + "2" * 11 + "-" + "3" * 13 + "-" + rnd(24)}"',
        "slack_webhook": f'url = "{"https://hooks" + ".slack.com/services/T" + rnd(10, string.ascii_uppercase) + "/B" + rnd(10, string.ascii_uppercase) + "/" + rnd(24)}"',
        "stripe_key": f'stripe.api_key = "{"sk_" + "live_" + rnd(24)}"',
        "google_api_key": f'MAPS = "{"AIza" + rnd(35, ALNUM + "_-")}"',
        "google_service_account": '{"type": "service_account", "project_id": "demo", "private_key_id": "' + rnd(40, HEX) + '"}',
        "azure_storage_key": f'conn = "DefaultEndpointsProtocol=https;AccountName=demo;{"Account" + "Key=" + rnd(86, B64)}==;"',
        "twilio_api_key": f'TWILIO = "{"SK" + rnd(32, HEX)}"',
        "sendgrid_key": f'SG = "{"SG." + rnd(22) + "." + rnd(43)}"',
        "npm_token": f'//registry.npmjs.org/:_authToken={"npm_" + rnd(36)}',
        "pypi_token": f'password = {"pypi-" + "AgEIcHlwaS5vcmc" + rnd(60)}',
        "huggingface_token": f'HF_TOKEN = "{"hf_" + rnd(34, string.ascii_letters)}"',
        "shopify_token": f'SHOPIFY_ADMIN_TOKEN = "{"shp" + "at_" + rnd(32, HEX)}"',
        "digitalocean_token": f'export DIGITALOCEAN_TOKEN={"dop" + "_v1_" + rnd(64, HEX)}',
        "facebook_access_token": f'graph = GraphAPI(access_token="{"EAA" + "CEdEose0cBA" + rnd(160)}")',
        "heroku_api_key": f'HEROKU_API_KEY={rnd(8, HEX)}-{rnd(4, HEX)}-4{rnd(3, HEX)}-a{rnd(3, HEX)}-{rnd(12, HEX)}',
        "jwt": f'auth = "Bearer {"eyJ" + rnd(20) + ".eyJ" + rnd(30) + "." + rnd(43, ALNUM + "_-")}"',
        "private_key": pem(),
        "database_url": f'DATABASE_URL = "postgresql://app:{rnd(16)}@db.internal:5432/app"',
        "generic_secret": f'client_secret = "{rnd(10)}#{rnd(6)}"',
        "password": f"  password: {rnd(5)}&{rnd(6)}",
        "url_credentials": f'REPO = "https://deploy:{rnd(12)}@git.internal.test/app.git"',
        "cli_user_password": f"curl -u admin:{rnd(10)} https://api.internal.test/health",
        "bearer_token": f'headers = {{"Authorization": "Bearer {rnd(40)}"}}',
        "url_query_secret": f'FEED = "https://api.weather.test/v1/forecast?city=Oslo&api_key={rnd(24)}"',
        "markup_secret": f'<server><id>nexus</id><password>{rnd(14)}</password></server>',
        # Known by their prefix alone, under names that say nothing (a reviewer's 16 such tokens were all missed)
        "vault_token": f'client = hvac.Client(url=VAULT, token="{"hvs." + "CAESI" + rnd(86, ALNUM + "_-")}")',
        "doppler_token": f'DOPPLER = "{"dp." + "pt." + rnd(43)}"',
        "databricks_token": f'workspace = connect(host, "{"dapi" + rnd(32, HEX)}")',
        "grafana_token": f'grafana = "{"glsa_" + rnd(32) + "_" + rnd(8, HEX)}"',
        "postman_api_key": f'postman = "{"PMAK-" + rnd(24, HEX) + "-" + rnd(34, HEX)}"',
        "pulumi_token": f'env:\n  PULUMI: {"pul-" + rnd(40, HEX)}',
        "linear_api_key": f'linear = LinearClient("{"lin_" + "api_" + rnd(40)}")',
        "ai_provider_key": f'llm = Groq("{"gsk_" + rnd(52)}")',
        "age_secret_key": f'{"AGE-SECRET-" + "KEY-1" + rnd(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")}',
        "telegram_bot_token": f'bot = Bot("{"1234567" + "89:AA" + rnd(33, ALNUM + "_-")}")',
        "atlassian_api_token": f'jira = JIRA(server, basic_auth=(user, "{"ATATT3" + "xFfGF0" + rnd(180, ALNUM + "_-") + "=" + rnd(8, HEX).upper()}"))',
        "square_token": f'square = Client(access_token="{"EAAA" + rnd(60)}")',
        "azure_ad_client_secret": f'credential = ClientSecretCredential(tenant, app, "{rnd(3) + "8Q~" + rnd(31)}")',
        "cloudflare_origin_ca_key": f'origin = "{"v1.0-" + rnd(24, HEX) + "-" + rnd(146, HEX)}"',
        "discord_webhook": f'hook = "{"https://discord" + ".com/api/webhooks/" + "1" * 18 + "/" + rnd(68, ALNUM + "_-")}"',
        "google_oauth_token": f'creds = Credentials("{"ya29." + "a0" + rnd(120, ALNUM + "_-")}")',
        # Where credentials leak besides `name = value` (a reviewer's eight files: none found)
        "sql_user_password": f"CREATE USER app WITH PASSWORD '{rnd(14)}';",
        "powershell_secure_string": f'$pw = ConvertTo-SecureString "{rnd(14)}" -AsPlainText -Force',
        "environment_default_secret": f"API_KEY = os.getenv('API_KEY', '{rnd(28)}')",
        "go_dsn_password": f'var dsn = "root:{rnd(14)}@tcp(127.0.0.1:3306)/app"',
        "registry_login_password": f"docker login -u ci -p {rnd(14)} registry.internal.test",
        "uuid_token": f"SNYK_TOKEN={rnd(8, HEX)}-{rnd(4, HEX)}-4{rnd(3, HEX)}-a{rnd(3, HEX)}-{rnd(12, HEX)}",
        "netrc_password": f"machine api.internal.test\n  login ci\n  {'pass' + 'word'} {rnd(14)}",
        # Vendors' documented prefixes, passed where no name says "token" (a reviewer's 12 shapes: none found)
        "discord_bot_token": f'bot.run("{discord_token()}")',
        "new_relic_key": f'nr = NerdGraph("{"NRAK" + "-" + rnd(27, string.ascii_uppercase + string.digits)}")',
        "sentry_token": f'sentry = Api("{"sntryu" + "_" + rnd(64, HEX)}")',
        "webhook_signing_secret": f'verify(payload, "{"whsec" + "_" + rnd(32)}")',
        "notion_token": f'notion = Client(auth="{"ntn" + "_" + rnd(46)}")',
        "supabase_token": f'mgmt = Management("{"sbp" + "_" + rnd(40, HEX)}")',
        "tailscale_key": f'join("{"tskey" + "-auth-" + rnd(12) + "CNTRL-" + rnd(32)}")',
        "bitbucket_app_password": f'bb = Cloud(user, "{"AT" + "BB" + rnd(32)}")',
        "figma_token": f'figma = Figma("{"figd" + "_" + rnd(40, ALNUM + "_-")}")',
        "planetscale_token": f'ps = connect(host, user, "{"pscale" + "_pw_" + rnd(43)}")',
        "alibaba_access_key_id": f'client = AcsClient("{"LT" + "AI" + rnd(20)}", secret, region)',
        "terraform_cloud_token": f'tfe = TFE("{rnd(14) + ".atlas" + "v1." + rnd(67, ALNUM + "_-")}")',
        "dynatrace_token": f'dt = Dynatrace(url, "{"dt0c01" + "." + rnd(24, string.ascii_uppercase + string.digits) + "." + rnd(64, string.ascii_uppercase + string.digits)}")',
        "firebase_cloud_messaging_key": f'fcm = FCM("{"AAAA" + rnd(7) + ":APA" + "91b" + rnd(134, ALNUM + "_-")}")',
        "mapbox_secret_token": f'mapbox = Mapbox("{"sk" + ".eyJ" + rnd(60) + "." + rnd(22)}")',
        "onepassword_service_account_token": f'op = OnePassword("{"ops" + "_eyJ" + rnd(300, B64)}")',
        "buildkite_token": f'bk = Buildkite("{"bkua" + "_" + rnd(40, HEX)}")',
        "datadog_app_key": f'DD_APP_KEY={rnd(40, HEX)}',
        "postmark_token": f"X-Postmark-Server-Token: {rnd(8, HEX)}-{rnd(4, HEX)}-4{rnd(3, HEX)}-a{rnd(3, HEX)}-{rnd(12, HEX)}",
        "basic_auth_base64": '{"auths": {"registry.internal.test": {"auth": "' + base64.b64encode(("ci:" + rnd(18)).encode()).decode() + '"}}}',
    }


def discord_token(bot_id: str = "1134567890123456789") -> str:
    """A Discord bot token's shape: the bot's id in base64 (unpadded), a timestamp, an HMAC."""
    return base64.b64encode(bot_id.encode()).decode().rstrip("=") + "." + rnd(6, ALNUM + "_-") + "." + rnd(38, ALNUM + "_-")


def write_config(root: Path, **security: object) -> None:
    (root / ".buildrunner").mkdir(exist_ok=True)
    (root / ".buildrunner" / "config.json").write_text(json.dumps({"security": security}))


def remove_tree(top: Path) -> None:
    """Remove a tree of any depth, deeper than PATH_MAX included (shutil.rmtree recurses once per level)."""
    flags = os.O_RDONLY | os.O_DIRECTORY
    fd = os.open(top, flags)
    names: list[str] = []
    while True:
        with os.scandir(fd) as it:
            entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
        for name, is_dir in entries:
            if not is_dir:
                os.unlink(name, dir_fd=fd)
        folders = [name for name, is_dir in entries if is_dir]
        if folders:
            child = os.open(folders[0], flags, dir_fd=fd)
            os.close(fd)
            fd = child
            names.append(folders[0])
            continue
        if not names:
            break
        parent = os.open("..", flags, dir_fd=fd)
        os.close(fd)
        fd = parent
        os.rmdir(names.pop(), dir_fd=fd)
    os.close(fd)
    os.rmdir(top)


def sql_found(detector: Any, code: str, language: str = "python") -> list[tuple[int, str]]:
    """(line, severity) of each SQL-injection finding in `code` (dedented)."""
    return [(f.line_number, f.severity) for f in detector.check_code(textwrap.dedent(code).lstrip("\n"), language=language)]


def marked(code: str) -> list[int]:
    """Lines of `code` (dedented) ending in `# <-` or `// <-`: where a finding must be."""
    lines = textwrap.dedent(code).lstrip("\n").splitlines()
    return [n for n, line in enumerate(lines, 1) if line.rstrip().endswith(("# <-", "// <-"))]
