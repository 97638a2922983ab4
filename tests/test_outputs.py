"""Nothing lost: outputs that are inputs, clobbering, concurrent writers, stale staging, full disks.

Every case asserts the one-line error, exit code 2, and that the inputs' bytes are unchanged.
"""

import errno
import hashlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_user_error, run

from neurender import outputs
from neurender.dataset import GenerateSpec, generate_dataset, open_dataset, write_params_csv
from neurender.presets import PRESETS

TINY_TOML = """
[model]
arch = "field"
width = 8
[schedule]
batch = 8
pixels_per_image = 16
warmup_images = 16
adversarial_images = 0
[run]
tick_images = 8
val_images = 4
threads = 1
"""


def fingerprint(path):
    """sha256 of every file below `path` (or of the file), by relative name."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    generate_dataset(GenerateSpec(PRESETS["easy"], 24, 0, 32, 4, 4), root / "ds")
    for k in range(2):
        generate_dataset(GenerateSpec(PRESETS["easy"], 2048, 0, 8, 0, 0), root / f"shard{k}", shard=(k, 2))
    (root / "tiny.toml").write_text(TINY_TOML)
    result = run("train", "--dataset", root / "ds", "--out", root / "run", "--config", root / "tiny.toml")
    assert result.exit_code == 0, result.output
    template = root / "template"
    template.mkdir()
    result = run("render", "--checkpoint", root / "run" / "renderer.pt", "--dataset", root / "ds", "--out", template)
    assert result.exit_code == 0, result.output
    frames = sorted(int(p.stem.split("_")[1]) for p in template.glob("image_*.png"))
    data = open_dataset(root / "ds")
    write_params_csv(template / "params.csv", np.array(frames), data.params[frames], header=False)
    result = run("evaluate", "--checkpoint", root / "run" / "renderer.pt", "--dataset", root / "ds",
                 "--out", root / "eval", "--metrics", "ssim,l1", "--workers", 1)
    assert result.exit_code == 0, result.output
    return root


def commands(root):
    """Each writing command with an output that is, contains or lies inside one of its inputs."""
    run_dir, ds, template = root / "run", root / "ds", root / "template"
    return {
        "import into its source": (["dataset", "import", template, "--out", template, "--overwrite"], template),
        "import inside its source": (["dataset", "import", template, "--out", template / "ds"], template),
        "merge into a shard": (["dataset", "merge", root / "shard0", root / "shard1", "--out", root / "shard0",
                                "--overwrite"], root / "shard0"),
        "render over the template": (["render", "--checkpoint", run_dir / "renderer.pt", "--params-csv",
                                      template / "params.csv", "--out", template, "--overwrite"], template),
        "evaluate into the reference": (["evaluate", "--reference", ds, "--checkpoint", run_dir / "renderer.pt",
                                         "--out", ds, "--overwrite"], ds),
        "evaluate over the run": (["evaluate", "--reference", ds, "--checkpoint", run_dir / "renderer.pt",
                                   "--out", run_dir, "--overwrite"], run_dir),
        "compare onto its input": (["compare", root / "eval" / "metrics.json", "--out",
                                    root / "eval" / "metrics.json", "--overwrite"], root / "eval"),
        "train into its dataset": (["train", "--dataset", ds, "--out", ds, "--overwrite", "--config",
                                    root / "tiny.toml"], ds),
        "preview into the dataset": (["dataset", "preview", ds, "--out", ds / "images.npy", "--overwrite"], ds),
        "results over a checkpoint": (["results", "--checkpoint", f"a={run_dir / 'renderer.pt'}", "--out",
                                       run_dir, "--overwrite"], run_dir),
    }


@pytest.mark.parametrize("case", list(commands(Path("."))))
def test_an_output_is_never_an_input(world, case):
    args, guarded = commands(world)[case]
    before = fingerprint(guarded)
    result = run(*args)
    assert_user_error(result, "input")
    assert fingerprint(guarded) == before


def through_links(world, case, side):
    """The case with its inputs (side "inputs") or its output (side "output") named through a symbolic link to
    the world's folder."""
    alias = world.parent / f"{world.name}-alias"
    if not alias.exists():
        alias.symlink_to(world, target_is_directory=True)
    real, linked = commands(world)[case][0], commands(alias)[case][0]
    args = list(linked if side == "inputs" else real)
    at = args.index("--out") + 1
    args[at] = (real if side == "inputs" else linked)[at]
    return args


@pytest.mark.parametrize("side", ["inputs", "output"])
@pytest.mark.parametrize("case", list(commands(Path("."))))
def test_an_output_is_never_an_input_through_a_symbolic_link(world, case, side):
    guarded = commands(world)[case][1]
    before = fingerprint(guarded)
    result = run(*through_links(world, case, side))
    assert_user_error(result, "input")
    assert fingerprint(guarded) == before


def test_an_output_is_never_an_input_through_a_hard_link(world, tmp_path):
    metrics = world / "eval" / "metrics.json"
    os.link(metrics, tmp_path / "same.json")
    before = fingerprint(metrics)
    assert_user_error(run("compare", metrics, "--out", tmp_path / "same.json", "--overwrite"), "input")
    assert fingerprint(metrics) == before


def test_a_failed_train_keeps_the_run_it_would_replace(world, tmp_path):
    shutil.copytree(world / "run", tmp_path / "run")
    before = fingerprint(tmp_path / "run")
    assert_user_error(run("train", "--dataset", tmp_path / "nosuch", "--out", tmp_path / "run", "--overwrite",
                          "--config", world / "tiny.toml"), "nosuch")
    assert fingerprint(tmp_path / "run") == before


def test_existing_files_are_not_clobbered(world, tmp_path):
    (tmp_path / "grid.png").write_bytes(b"mine")
    assert_user_error(run("dataset", "preview", world / "ds", "--out", tmp_path / "grid"), "already exists")
    assert (tmp_path / "grid.png").read_bytes() == b"mine"
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "losses.png").write_bytes(b"mine")
    assert_user_error(run("plot", world / "run", "--out", plots), "already exists")
    assert (plots / "losses.png").read_bytes() == b"mine"
    assert run("plot", world / "run", "--out", plots, "--overwrite").exit_code == 0
    assert (plots / "losses.png").read_bytes() != b"mine"


def test_a_second_writer_of_the_same_output_fails(tmp_path):
    out = tmp_path / "ds"
    with outputs.output_lock(out):
        assert_user_error(run("dataset", "generate", "--preset", "easy", "--count", 4, "--resolution", 8,
                              "--out", out), "another neurender process is writing")
    assert not out.exists()
    assert run("dataset", "generate", "--preset", "easy", "--count", 4, "--resolution", 8, "--out", out).exit_code == 0
    assert not list(tmp_path.glob(".ds.*"))  # lock and staging gone


def test_stale_staging_of_dead_processes_is_removed(tmp_path):
    dead = tmp_path / ".ds.partial-999999999"
    dead.mkdir()
    (dead / "images.npy").write_bytes(b"x" * 1000)
    alive = tmp_path / f".ds.partial-{os.getpid()}-other"  # not ours to remove: not a PID suffix
    alive.mkdir()
    assert run("dataset", "generate", "--preset", "easy", "--count", 4, "--resolution", 8, "--out",
               tmp_path / "ds").exit_code == 0
    assert not dead.exists() and alive.exists()


def test_a_full_disk_is_one_line_and_keeps_the_old_output(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    assert run("dataset", "generate", "--preset", "easy", "--count", 4, "--resolution", 8, "--out", out).exit_code == 0
    before = fingerprint(out)

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    assert_user_error(run("dataset", "generate", "--preset", "easy", "--count", 8, "--resolution", 8, "--out", out,
                          "--overwrite", "--workers", 1), "the disk is full")
    assert fingerprint(out) == before
    assert not list(tmp_path.glob(".ds.*"))


def test_a_count_that_cannot_fit_is_refused_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 10**6))
    assert_user_error(run("dataset", "generate", "--preset", "easy", "--count", 100, "--out", tmp_path / "ds"),
                      "needs up to")
    assert not (tmp_path / "ds").exists()


def test_an_unwritable_folder_is_one_line(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    real_access = os.access
    monkeypatch.setattr(outputs.os, "access", lambda p, mode: real_access(p, mode) and Path(p) != locked)  # root
    assert_user_error(run("dataset", "generate", "--preset", "easy", "--count", 4, "--out", locked / "ds"),
                      "not a writable folder")


def test_checkpoint_temporaries_of_dead_processes_are_removed(tmp_path):
    dead, mine = tmp_path / ".latest.pt.tmp-999999999", tmp_path / f".latest.pt.tmp-{os.getpid()}"
    dead.write_bytes(b"x")
    mine.write_bytes(b"x")
    assert outputs.remove_stale(tmp_path) == [dead]
    assert mine.exists()


def test_a_full_disk_while_saving_a_checkpoint_is_one_line(tmp_path, monkeypatch):
    from neurender.errors import NeurenderError
    from neurender.training import checkpoint

    checkpoint.save_atomic({"kind": "x"}, tmp_path / "latest.pt")
    before = (tmp_path / "latest.pt").read_bytes()

    def torch_writer_fails(obj, f, *args, **kwargs):  # what torch's zip writer raises on ENOSPC
        f.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:595] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed\nmore lines")

    monkeypatch.setattr(checkpoint.torch, "save", torch_writer_fails)
    with pytest.raises(NeurenderError) as error:
        checkpoint.save_atomic({"kind": "y"}, tmp_path / "latest.pt")
    assert "previous one is kept" in str(error.value) and "\n" not in str(error.value)
    assert (tmp_path / "latest.pt").read_bytes() == before
    assert not list(tmp_path.glob(".*"))


@pytest.mark.slow
@pytest.mark.parametrize("command", ["generate", "invert"])
def test_sigterm_leaves_no_staging_or_lock_and_keeps_the_old_output(world, tmp_path, command):
    out = tmp_path / "ds"
    shutil.copytree(world / "ds", out)
    before = fingerprint(out)
    args = {"generate": ["dataset", "generate", "--count", "2000000", "--resolution", "64"],
            "invert": ["invert", "--dataset", str(world / "ds"), "--steps", "100000"]}[command]
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "neurender", *args, "--out", str(out),
                             "--overwrite"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not list(tmp_path.glob(".ds.partial-*")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    if not list(tmp_path.glob(".ds.partial-*")):
        proc.kill()
        output = proc.communicate()[0]
        pytest.fail(f"the run never started staging (exit {proc.returncode}):\n{output[-3000:]}")
    proc.send_signal(signal.SIGTERM)
    try:
        output, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
        output = proc.communicate()[0]  # its head shows an interrupt swallowed ('Exception ignored ...')
        pytest.fail(f"still running 120 s after SIGTERM:\n{output[:2000]}\n...\n{output[-4000:]}")
    assert proc.returncode == 130 and "Traceback" not in output, output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"], output  # no .ds.partial-PID, no .ds.lock
    assert fingerprint(out) == before, output


def test_ctrl_c_to_the_process_group_during_evaluate_is_one_line(tmp_path):
    """A terminal's Ctrl-C reaches the scoring processes too: they end without tracebacks of their own, the command
    says so once (not killed by its own retry timer either), and nothing is written. The command runs on a
    pseudo-terminal, so that its progress bar shows when scoring is under way."""
    import fcntl
    import pty
    import re
    import select
    import struct
    import termios

    from PIL import Image

    from neurender.dataset.names import template_image_name

    images = tmp_path / "images"
    images.mkdir()
    frame = np.zeros((128, 128, 3), np.uint8)
    frame[32:96, 40:90] = 200
    for i in range(600):
        Image.fromarray(frame).save(images / template_image_name(i))
    out = tmp_path / "scores"
    terminal, child_side = pty.openpty()
    fcntl.ioctl(child_side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # tqdm draws no bar 0 wide
    proc = subprocess.Popen([sys.executable, "-m", "neurender", "evaluate", "--reference", str(images),
                             "--predictions", str(images), "--out", str(out)], stdin=subprocess.DEVNULL,
                            stdout=child_side, stderr=child_side, start_new_session=True)
    os.close(child_side)
    output, signalled, deadline = b"", False, time.time() + 180
    while time.time() < deadline:
        if select.select([terminal], [], [], 1)[0]:
            try:
                output += os.read(terminal, 65536)
            except OSError:  # the command has exited and closed the terminal
                break
        scored = [int(n) for n in re.findall(rb"evaluate: .*? (\d+)/600", output)]
        if not signalled and scored and 0 < max(scored) < 600:
            os.killpg(proc.pid, signal.SIGINT)
            signalled = True
    os.close(terminal)
    proc.wait(timeout=60)
    text = output.decode(errors="replace")
    assert signalled, text[-2000:]
    assert proc.returncode == 130 and "Traceback" not in text, text[-4000:]
    assert [line for line in re.split(r"[\r\n]+", text) if line.strip()][-1].strip() == "aborted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images"]


def _this_frame():
    return sys._getframe()


def frame_in(module: str):
    """A frame whose code belongs to `module` (as the signal handler sees it)."""
    return types.FunctionType(_this_frame.__code__, {"__name__": module, "sys": sys})()


def test_sigterm_inside_a_progress_bar_waits_for_a_safe_point_but_not_forever(monkeypatch):
    main = importlib.import_module("neurender.cli.main")  # the package's `main` is the click group
    armed = []
    monkeypatch.setattr(main.signal, "setitimer", lambda which, seconds: armed.append(seconds))
    monkeypatch.setattr(main, "_deferred", 0)
    monkeypatch.setattr(main, "_raised", False)
    with pytest.raises(KeyboardInterrupt):
        main._terminate(signal.SIGTERM, frame_in("neurender.inversion.fit"))
    assert armed == [main.REDELIVER_S]  # raised at once; the timer then checks that it unwinds
    armed.clear()
    monkeypatch.setattr(main, "_raised", False)
    for _ in range(main.RETRIES):  # tqdm's lock handling: delivered again RETRY_S later
        main._terminate(signal.SIGALRM, frame_in("tqdm.std"))
    assert armed == [main.RETRY_S] * main.RETRIES
    with pytest.raises(KeyboardInterrupt):  # a process always inside tqdm still stops
        main._terminate(signal.SIGALRM, frame_in("tqdm.std"))


def test_an_interrupt_that_is_unwinding_is_not_raised_again(monkeypatch):
    main = importlib.import_module("neurender.cli.main")
    armed = []
    monkeypatch.setattr(main.signal, "setitimer", lambda which, seconds: armed.append(seconds))
    monkeypatch.setattr(main, "_raised", True)
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:  # cleanup on the way out, e.g. a staging folder being removed
        main._terminate(signal.SIGALRM, frame_in("neurender.outputs"))
    assert armed == [main.REDELIVER_S]


STUBBORN_COMMANDS = """
import os, signal, sys, time
import click
from neurender.cli.main import _Group

@click.group(cls=_Group)
def cli():
    pass

class Finaliser:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):
            time.sleep(0.001)

@cli.command()
def finaliser():
    Finaliser()  # the interrupt lands in __del__: Python prints 'Exception ignored' and runs on
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.01)
    print("ran to the end")

@cli.command()
def exec_string():  # as a dataclass being built in a lazy import
    exec("import os, signal, time\\nos.kill(os.getpid(), signal.SIGTERM)\\nfor _ in range(1000):\\n time.sleep(0.001)")
    print("ran to the end")

cli()
"""


@pytest.mark.parametrize("command", ["finaliser", "exec-string"])
def test_an_interrupt_swallowed_or_marked_unhandled_by_python_still_exits_130(tmp_path, command):
    """An interrupt swallowed by a finaliser is raised again, without Python's 'Exception ignored' traceback; one
    that passed through exec() of a string (which CPython 3.11 turns into death by SIGINT) still ends with exit
    code 130."""
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN_COMMANDS)
    started = time.time()
    proc = subprocess.run([sys.executable, "-m", "stubborn", command], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, check=False)  # run as `neurender` is: a script exits otherwise
    assert proc.returncode == 130, (proc.returncode, proc.stdout, proc.stderr)
    assert "ran to the end" not in proc.stdout and proc.stderr.strip().splitlines() == ["aborted"]
    assert time.time() - started < 30


CRASHING = """
import atexit, os, shutil, signal, sys
target, when, count_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
calls = [0]
def crashing(real):
    def call(*args, **kwargs):
        calls[0] += 1
        if calls[0] == target and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if calls[0] == target and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return call
os.replace, os.rename, shutil.rmtree = crashing(os.replace), crashing(os.rename), crashing(shutil.rmtree)
atexit.register(lambda: open(count_file, "w").write(str(calls[0])))
from neurender.cli import main
sys.argv = ["neurender", *sys.argv[4:]]
main()
"""


def run_killed_at(tmp_path, target: int, when: str, *args) -> tuple[int, int]:
    """Run neurender with SIGKILL just before or after the target-th rename, replace or tree removal (0: none);
    returns (exit code, the number of those calls made when it ran to the end)."""
    count_file = tmp_path / "calls"
    count_file.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-c", CRASHING, str(target), when, str(count_file), *map(str, args)],
                          capture_output=True, text=True, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, int(count_file.read_text()) if count_file.exists() else -1


@pytest.mark.slow
def test_a_kill_at_every_rename_of_an_overwrite_loses_no_dataset(tmp_path):
    """Crash consistency, as storage engines test it: `dataset generate --overwrite` SIGKILLed before and after each
    of its renames and tree removals in turn. At every point the old dataset or the finished new one is at its name,
    or (killed between moving the old one aside and the new one in) the next run into the name puts the finished
    one in place before anything is removed; then an --overwrite run ends with the new one and no leftovers."""
    out, old_copy = tmp_path / "ds", tmp_path / "old"
    generate_dataset(GenerateSpec(PRESETS["easy"], 6, 0, 8, 0, 0), old_copy)
    new_args = ["dataset", "generate", "--preset", "easy", "--count", 6, "--resolution", 8, "--seed", 1,
                "--out", out]
    old = fingerprint(old_copy)
    shutil.copytree(old_copy, out)
    code, calls = run_killed_at(tmp_path, 0, "none", *new_args, "--overwrite")
    assert code == 0 and calls >= 3  # old aside, new in, old removed (and the staging's own housekeeping)
    new, old = fingerprint(out), {k.replace("old/", "ds/", 1): v for k, v in old.items()}
    assert new != old
    window = 0
    for target in range(1, calls + 1):
        for when in ("before", "after"):
            shutil.rmtree(out, ignore_errors=True)
            shutil.copytree(old_copy, out)
            code, _ = run_killed_at(tmp_path, target, when, *new_args, "--overwrite")
            assert code == -signal.SIGKILL
            if out.exists():
                assert fingerprint(out) in (old, new), (target, when)
            else:  # the window: the next run puts the finished dataset in place and says so
                window += 1
                assert_user_error(run(*new_args), "back in place")
                assert fingerprint(out) == new, (target, when)
            assert run(*new_args, "--overwrite").exit_code == 0
            assert fingerprint(out) == new and not list(tmp_path.glob(".ds.*")), (target, when)
    assert window == 2  # after the old one's move aside, and before the new one's move in


@pytest.mark.slow
def test_a_kill_at_every_rename_of_a_training_leaves_a_run_to_resume_or_one_line(world, tmp_path):
    """`train` SIGKILLed before and after each of its renames and tree removals in turn (checkpoint saves, the run
    folder's files): `--resume latest` then either continues from the last complete checkpoint to the end, or, when
    none was complete yet, says so in one line that names what to do, and --overwrite starts it again."""
    out = tmp_path / "run"
    args = ["train", "--dataset", world / "ds", "--config", world / "tiny.toml", "--out", out]
    code, calls = run_killed_at(tmp_path, 0, "none", *args)
    assert code == 0 and calls >= 3 and (out / "renderer.pt").is_file()  # a latest.pt a tick, renderer.pt
    nothing = 0
    for target in range(1, calls + 1):
        for when in ("before", "after"):
            shutil.rmtree(out, ignore_errors=True)
            code, _ = run_killed_at(tmp_path, target, when, *args)
            assert code == -signal.SIGKILL
            resumed = run("train", "--out", out, "--resume", "latest")
            if (out / "latest.pt").is_file() or not out.is_dir():
                assert resumed.exit_code == 0 or "no run folder" in resumed.output, (target, when, resumed.output)
            else:
                nothing += 1
                assert_user_error(resumed, "it has no latest.pt")
                assert "start it again with --overwrite" in resumed.output
                assert run(*args, "--overwrite").exit_code == 0
            assert (out / "renderer.pt").is_file() or not out.is_dir(), (target, when)
    assert nothing >= 1  # killed at the first checkpoint's rename


@pytest.mark.parametrize("command", ["render", "plot", "preview"])
def test_a_full_disk_while_writing_a_file_is_one_line_and_leaves_no_partial_file(world, tmp_path, monkeypatch,
                                                                                  command):
    """Each file a command writes goes through outputs.written: ENOSPC part-way leaves neither a 0-byte file under
    its name nor a temporary, and is one error line."""
    from matplotlib.figure import Figure
    from PIL import Image

    def full(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    monkeypatch.setattr(Figure, "savefig", full)
    out = tmp_path / "out"
    args = {"render": ["render", "--checkpoint", world / "run" / "renderer.pt", "--dataset", world / "ds",
                       "--out", out],
            "plot": ["plot", world / "run", "--out", out],
            "preview": ["dataset", "preview", world / "ds", "--out", out / "preview.png"]}[command]
    assert_user_error(run(*args), "the disk is full")
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_scoring_workers_end_with_a_command_killed_by_sigkill(world, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "neurender", "evaluate", "--checkpoint",
                             str(world / "run" / "renderer.pt"), "--dataset", str(world / "ds"), "--out",
                             str(tmp_path / "eval"), "--workers", "2"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(_children(proc.pid)) < 3 and time.time() < deadline:  # two workers and the resource tracker
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert len(workers) >= 3, "the scoring workers never started"
    time.sleep(1.0)  # the workers' initializers have run
    proc.kill()
    proc.wait()
    deadline = time.time() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if Path(f"/proc/{pid}/status").exists()
            and "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()]
    assert not left, f"processes outlived their command: {left}"
