"""Settings from env and TOML; the store refuses an out-of-date schema and names the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from workbench.errors import ConfigError, SchemaOutOfDate, StoreUnavailable
from workbench.runtime import open_operational
from workbench.settings import Settings, load_settings
from workbench.storage.engine import check_schema, connect, make_engine
from workbench.storage.migrate import upgrade


def test_defaults_are_embedded_files_under_home(tmp_path: Path) -> None:
    s = load_settings({"WESHARE_HOME": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'weshare.sqlite'}"
    assert s.warehouse_url == f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    assert s.demo is False


def test_env_overrides_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text('demo = true\nhub_port = 9000\nsmtp_host = "mail.local"\n')
    s = load_settings({"WESHARE_CONFIG": str(cfg), "WESHARE_HUB_PORT": "9100"})
    assert (s.demo, s.hub_port, s.smtp_host) == (True, 9100, "mail.local")


def test_home_toml_is_read_when_present(tmp_path: Path) -> None:
    (tmp_path / "weshare.toml").write_text("demo = true\n")
    assert load_settings({"WESHARE_HOME": str(tmp_path)}).demo is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WESHARE_DATABASE_URL": "not a url"}, "WESHARE_DATABASE_URL is not a valid database URL"),
        ({"WESHARE_WAREHOUSE_URL": "::"}, "WESHARE_WAREHOUSE_URL"),
        ({"WESHARE_HUB_PORT": "eighty"}, "WESHARE_HUB_PORT must be a whole number"),
        ({"WESHARE_DEMO": "maybe"}, "WESHARE_DEMO must be true or false"),
        ({"WESHARE_CONFIG": "/nonexistent/w.toml"}, "WESHARE_CONFIG points at a missing file"),
    ],
)
def test_malformed_settings_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_unknown_toml_key_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text("databse_url = 'sqlite://'\n")
    with pytest.raises(ConfigError, match="unknown setting 'databse_url'"):
        load_settings({"WESHARE_CONFIG": str(cfg)})


def test_unreachable_database_names_the_setting() -> None:
    with pytest.raises(StoreUnavailable, match=r"^WESHARE_DATABASE_URL: cannot reach"):
        connect("postgresql://nobody@127.0.0.1:1/none")


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_empty_store_is_refused_with_the_fix(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with pytest.raises(SchemaOutOfDate, match=r"is empty.*run `weshare db upgrade`"):
        open_operational(settings)


def test_old_revision_is_refused_then_upgrade_fixes_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(engine, "0001")
    with pytest.raises(SchemaOutOfDate, match="at revision 0001"):
        check_schema(engine)
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_migrated_store_passes_the_check(store_url: str) -> None:
    engine = make_engine(store_url)
    check_schema(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT seq FROM audit_head WHERE id = 1")).scalar() == 0
    engine.dispose()
