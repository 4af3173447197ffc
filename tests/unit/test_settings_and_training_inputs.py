import shutil
from pathlib import Path

from bot.settings import DEFAULT_DATABASE_URL, Settings
from tools.paths import TRAINING_INPUTS
from tools.train import inputs_hash

ROOT = Path(__file__).resolve().parents[2]


def test_empty_settings_fall_back_to_defaults_and_values_are_typed():
    settings = Settings.from_env(
        {"RASA_URL": "", "GATEWAY_PORT": "9000", "REPLY_TARGET_HOURS": "12", "LOG_LEVEL": "debug"}
    )
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert (settings.port, settings.reply_target_hours, settings.log_level) == (
        9000,
        12.0,
        "DEBUG",
    )


def test_env_example_names_only_settings_that_exist():
    names = [
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(names) > 30
    sources = "".join(
        path.read_text() for folder in ("bot", "tools") for path in (ROOT / folder).rglob("*.py")
    )
    for name in names:
        assert f'"{name}"' in sources, f"{name} is in .env.example but no code reads it"
    # the per-page and per-OA names shown as comments are the ones the code reads
    suffixes = {
        line.split("=")[0].split("_", 3)[-1]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.startswith(("# FACEBOOK_PAGE_", "# ZALO_OA_"))
    }
    for suffix in suffixes:
        assert f'"{suffix}"' in sources, suffix


def test_training_is_redone_only_when_a_training_input_changes(tmp_path):
    for name in TRAINING_INPUTS:
        source = ROOT / name
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copyfile(source, target)
    before = inputs_hash(tmp_path)
    (tmp_path / "README.md").write_text("not a training input")
    assert inputs_hash(tmp_path) == before
    with (tmp_path / "nlu_data" / "nlu" / "conversation.yml").open("a") as f:
        f.write("      - chao buoi toi\n")
    assert inputs_hash(tmp_path) != before
