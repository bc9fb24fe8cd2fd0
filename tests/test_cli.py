import tomllib

from click.testing import CliRunner

from evidence.case import load_case
from evidence.cli import cli


def test_init_writes_a_loadable_case_with_prompts(tmp_path):
    case = tmp_path / "case-1"
    r = CliRunner().invoke(cli, ["init", str(case)], input='Zoë "Q" Müller\nzoe@example.com\n')
    assert r.exit_code == 0, r.output
    data = tomllib.loads((case / "case.toml").read_text("utf-8"))
    assert data["client"] == {"name": 'Zoë "Q" Müller', "email": "zoe@example.com"}
    assert (case / "screenshots").is_dir()
    assert load_case(case).client.email == "zoe@example.com"


def test_init_refuses_to_overwrite(tmp_path):
    args = ["init", str(tmp_path), "--name", "A B", "--email", "a@b.co"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    before = (tmp_path / "case.toml").read_bytes()
    r = CliRunner().invoke(cli, args[:-4] + ["--name", "C D", "--email", "c@d.co"])
    assert r.exit_code != 0 and "exists" in r.output
    assert (tmp_path / "case.toml").read_bytes() == before
