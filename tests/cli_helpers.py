"""Running the CLI in-process and checking the one-line error contract."""

from click.testing import CliRunner

from neurender.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_user_error(result, fragment):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], result.output
    assert "Traceback" not in result.output
