"""bgctl installed into a prefix runs a whole stack from a folder outside the repository, with no
templates/ folder anywhere: what a person gets from `make install` or the release tarball."""
import json
import os
import shutil
import subprocess

from conftest import ROOT


def test_an_installed_bgctl_runs_up_switch_down_outside_the_repository(project, tmp_path_factory):
    prefix = tmp_path_factory.mktemp("prefix")
    build = subprocess.run(["make", "-C", ROOT, "install", f"PREFIX={prefix}"], capture_output=True, text=True,
                           timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    binary = prefix / "bin" / "bgctl"
    assert binary.is_file() and os.access(binary, os.X_OK)
    assert (prefix / "share" / "man" / "man1" / "bgctl.1").is_file()
    assert (prefix / "share" / "bash-completion" / "completions" / "bgctl").is_file()
    assert (prefix / "share" / "zsh" / "site-functions" / "_bgctl").is_file()
    assert (prefix / "share" / "fish" / "vendor_completions.d" / "bgctl.fish").is_file()

    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert version.startswith("bgctl ") and (not head or head in version), version

    # The project's spec, moved to a folder of its own: no checkout, no templates/ beside it.
    site = tmp_path_factory.mktemp("site")
    spec = site / "bgctl.yaml"
    shutil.copy(project.spec, spec)
    assert not any(p.name == "templates" for p in site.rglob("*"))
    env = dict(os.environ, NO_COLOR="1", PATH=f"{prefix / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin")

    def run(*args, code=0):
        result = subprocess.run(["bgctl", *args], cwd=site, env=env, capture_output=True, text=True, timeout=180)
        assert result.returncode == code, f"bgctl {' '.join(args)}: {result.stdout}\n{result.stderr}"
        return result

    try:
        run("validate")
        rendered = run("render").stdout
        assert "upstream bgctl_blue" in rendered and "upstream bgctl_green" in rendered
        run("up")
        assert json.loads(run("status", "--json").stdout)["live"] == "blue"
        run("switch", "green")
        status = json.loads(run("status", "--json").stdout)
        assert status["live"] == "green" and status["proxy"]["served_by"] == "green"
    finally:
        run("down")
    assert project.containers() == []
