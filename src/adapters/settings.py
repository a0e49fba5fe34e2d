"""Settings from the environment (prefix KAQUAN_) or a `.env` file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAQUAN_", env_file=".env", extra="ignore")

    env: Mode = Mode.DEV
    var_dir: Path = Path("var")
    database_url: str | None = Field(default=None, description="default: SQLite file in the data directory")
    redis_url: str | None = Field(default=None, description="unset: in-process worker and in-memory stores")
    redis_namespace: str = "kaquan"

    # Secrets. In dev mode, missing ones are generated once into <var_dir>/keys.
    secret_key: SecretStr | None = Field(default=None, description="signs sessions and CSRF tokens")
    code_keys: SecretStr | None = Field(default=None, description="'id:base64key,…'; the first encrypts")
    fingerprint_key: SecretStr | None = Field(default=None, description="HMAC key for code fingerprints")

    epay_url: str = Field(
        default="/sandbox/pay/submit.php",
        description="the EPay aggregator's submit URL; the default is the dev-mode sandbox gateway",
    )
    epay_merchant_id: str = Field(default="1000", description="EPay pid (merchant id)")
    epay_key: SecretStr | None = Field(default=None, description="EPay merchant key (MD5 signing)")

    smtp_host: str | None = Field(default=None, description="unset: mails go to the log and var/mail (dev sink)")
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    mail_from: str = "kaquan <noreply@localhost>"

    order_payment_minutes: int = Field(default=15, description="unpaid orders expire and release stock after this")
    order_max_quantity: int = 10
    unpaid_units_per_buyer: int = Field(default=10, description="unpaid units one contact/IP/device may hold")
    order_sweep_seconds: float = Field(default=5, description="how often expiry and lost deliveries are swept")
    review_days: float = Field(
        default=3, gt=0, description="orders held for review that nobody approved or rejected are cancelled after this"
    )
    redeem_rate_per_minute: int = Field(default=60, description="redemption page requests per minute per address")
    lookup_rate_per_minute: int = Field(default=10, description="order lookups per minute per address")
    challenge_max_number: int = Field(
        default=1000,
        ge=1,
        le=2**32 - 1,
        description="bot challenge difficulty: the browser tries up to this many proofs (~1 ms each per core)",
    )
    challenge_rate_per_minute: int = Field(default=30, description="bot challenges issued per minute per address")

    reseller_max_depth: int = Field(default=3, description="levels of resellers below the merchant")
    api_rate_per_minute: int = Field(default=600, description="Open API requests per minute per key")
    supplier_timeout_seconds: float = Field(
        default=10, gt=0, description="how long an upstream supplier may take to answer; then it is asked again later"
    )
    upstream_sync_minutes: float = Field(
        default=10, gt=0, description="upstream suppliers' catalogs (prices, stock) are synced at least this often"
    )
    allow_private_callbacks: bool = Field(
        default=False,
        description="let API callback URLs and upstream suppliers resolve to loopback or private addresses (closed "
        "networks); refused otherwise, or anyone giving an address could aim this server at its own network",
    )

    public_url: str | None = Field(
        default=None, description="where people reach the shop, e.g. https://shop.example.com; used in links"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description='Host headers the app answers, e.g. ["shop.example.com"]; empty: any'
    )
    host: str = "127.0.0.1"
    port: int = 8000
    admin_password: SecretStr | None = None
    display_timezone: str = Field(default="Asia/Shanghai", description="times in the admin are shown in this zone")
    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="JSON log lines; default: on in production")

    login_failures_per_account: int = 5
    login_failures_per_ip: int = 30
    login_window_seconds: int = 900
    session_max_age_seconds: int = 12 * 3600
    worker_threads: int = 4
    worker_processes: int = 2
    worker_idle_poll_ms: int = Field(default=100, description="how long an idle worker waits before asking Redis again")

    @property
    def is_production(self) -> bool:
        return self.env is Mode.PRODUCTION

    @property
    def base_url(self) -> str:
        """Where links in mails point: the public URL, else this server's own address."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.var_dir / 'kaquan.db').resolve()}"

    @property
    def json_logs(self) -> bool:
        return self.is_production if self.log_json is None else self.log_json
