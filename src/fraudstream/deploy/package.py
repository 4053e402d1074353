"""Build the deployable artifacts: the handlers zip, the PyFlink application zip, the model tarball,
and the nightly batch job (its ``spark-submit`` entry point and its PySpark environment archive).

Zips are reproducible (sorted entries, fixed timestamps), so an unchanged build hashes the same,
gets the same S3 key, and CloudFormation sees no code change.

Third-party dependencies must be Linux wheels for the Lambda / Managed Flink runtime
(``confluent-kafka``, ``pydantic-core`` and ``numpy`` are compiled): they are fetched with
``pip install --target --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64
--only-binary=:all: --implementation cp --python-version X.Y``, whatever the build machine is.
The Lambdas run on ``python3.12`` (Amazon Linux 2023, glibc 2.34): confluent-kafka >= 2.6 ships
only ``manylinux_2_28`` wheels, which the Amazon Linux 2 based ``python3.11`` runtime cannot load.
The handler code itself is plain Python that runs on 3.11 and 3.12 alike.
``with_dependencies=False`` packs only the project's own code (tests, and layers managed elsewhere).
The package is zipped from where it is installed; the entry points (``lambdas/``, ``flink_jobs/``) come
from the checkout, ``Settings.project_dir``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import fraudstream
from fraudstream.settings import get_settings

PACKAGE_ROOT = Path(fraudstream.__file__).resolve().parent

# What the handlers import at run time (boto3 comes with the Lambda runtime).
LAMBDA_REQUIREMENTS = (
    "pydantic>=2.8,<3",
    "pydantic-settings>=2.4,<3",
    "confluent-kafka>=2.6,<3",
    "numpy>=1.26,<2.2",
    "httpx>=0.27,<1",
    "aws-msk-iam-sasl-signer-python>=1.0.2,<2",
    "prometheus-client>=0.20,<1",  # handlers/metrics.py (the counters exist on Lambda too; served only locally)
)
# What the PyFlink job imports besides PyFlink itself (provided by Managed Flink).
FLINK_REQUIREMENTS = ("pydantic>=2.8,<3", "pydantic-settings>=2.4,<3")
# Provided by the runtimes: never shipped.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python_dateutil", "dateutil", "six")

LINUX_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
LAMBDA_PYTHON = "3.12"  # Runtime: python3.12 in the template
FLINK_PYTHON = "3.11"  # the PyFlink runtime of Managed Flink
FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
EXCLUDED_PARTS = {"__pycache__", "testing", ".pytest_cache"}

# Entry points of the Lambda functions: lambdas/<name>.py, handler "lambdas/<name>.handler" in the
# template (the whole lambdas/ directory is zipped at the root, next to the fraudstream package).
LAMBDA_ENTRY_POINTS = ("agg_writer", "fraud_scorer", "clock")

LAMBDA_ZIP = "lambda-handlers"
FLINK_ZIP = "flink-app"
MODEL_TARBALL = "model"
FLINK_JAR_NAME = "lib/fraudstream-flink-deps.jar"
NIGHTLY_JOB = "nightly-job"
PYSPARK_ENV = "pyspark-env"
# Key prefix of the batch artifacts: the nightly stack's PackagePrefix (its job role reads only there).
BATCH_PREFIX = "batch"
# The nightly job's environment archive, unpacked by EMR Serverless as ./environment
# (spark.archives=...#environment). Two layouts:
# * "site-packages" (built here): the fraudstream package and Linux CPython 3.11 wheels of
#   BATCH_REQUIREMENTS at the archive root, put on PYTHONPATH; the interpreter is the release's own
#   Python 3.11 (BATCH_RELEASE ships Python 3.11, 3.12, 3.13 and Spark 4.0.2, the project's
#   requires-python and PySpark line). PySpark and py4j come from the release, never from the archive.
# * "venv" (prebuilt by infra/emr/pyspark-env.Dockerfile on Amazon Linux 2023 with venv-pack): its
#   own interpreter, ./environment/bin/python.
BATCH_PYTHON = "3.11"  # requires-python of the package; the interpreter that runs the job must match
BATCH_RELEASE = "emr-spark-8.0.0"  # the nightly template's ReleaseLabel default: Spark 4.0.2, Python 3.11
PYSPARK_ENV_PYTHON = "bin/python"  # a venv archive's interpreter
RELEASE_PYTHON = f"/usr/bin/python{BATCH_PYTHON}"  # Amazon Linux 2023 names each extra Python by version
VENV_PYTHON = f"./environment/{PYSPARK_ENV_PYTHON}"
SITE_PACKAGES, VENV = "site-packages", "venv"
# What the batch job imports at run time besides PySpark (pins of pyproject.toml): the settings,
# the store writer (boto3), the Arrow/pandas paths of Spark (tokeniser UDF) and the load's progress.
BATCH_REQUIREMENTS = (
    "numpy>=1.26,<2.2",
    "pandas>=2.2,<2.3",
    "pyarrow>=16,<17",
    "boto3>=1.35,<2",
    "pydantic>=2.8,<3",
    "pydantic-settings>=2.4,<3",
    "rich>=13,<16",
)
BATCH_PROVIDED = ("pyspark", "py4j")  # the release's own, matched to its JVM side
PYSPARK_ENV_HOWTO = (
    "docker build -f infra/emr/pyspark-env.Dockerfile --output build/deploy/pyspark-env . "
    "then pass --pyspark-env build/deploy/pyspark-env/pyspark_env.tar.gz"
)


class PackagingError(RuntimeError):
    """An artifact cannot be built (missing inputs, pip failure)."""


@dataclass
class Artifact:
    """One built file and the facts the upload needs."""

    name: str
    path: str
    sha256: str
    size: int
    details: dict[str, str] = field(default_factory=dict)
    prefix: str = "fraudstream"

    @property
    def s3_key(self) -> str:
        """Content-addressed key: a rebuild with the same content maps to the same object."""
        suffix = "".join(Path(self.path).suffixes)
        return f"{self.prefix}/{self.name}-{self.sha256[:16]}{suffix}"


@dataclass
class PackageManifest:
    """What ``deploy package`` built (written as ``manifest.json`` next to the artifacts)."""

    out_dir: str
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    model: dict[str, str] = field(default_factory=dict)

    def write(self) -> Path:
        path = Path(self.out_dir) / "manifest.json"
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        return path

    @classmethod
    def read(cls, out_dir: str | Path) -> PackageManifest:
        data = json.loads((Path(out_dir) / "manifest.json").read_text())
        arts = {k: Artifact(**v) for k, v in data.pop("artifacts").items()}
        return cls(artifacts=arts, **data)


Step = Callable[[str], None]


def package_all(
    out_dir: str | Path,
    *,
    with_dependencies: bool = True,
    model_dir: str | Path | None = None,
    model_version: str = "latest",
    extra_jars: Iterable[str | Path] = (),
    pyspark_env: str | Path | None = None,
    step: Step | None = None,
) -> PackageManifest:
    """Build every artifact into ``out_dir``; a missing model, jar or PySpark environment becomes a
    warning, not an error (without the nightly artifacts ``deploy up`` skips the nightly stack)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    step = step or (lambda _msg: None)
    manifest = PackageManifest(out_dir=str(out))

    step("handlers zip")
    manifest.artifacts[LAMBDA_ZIP] = build_lambda_zip(out, with_dependencies=with_dependencies)
    missing = [f"{h}.py" for h in LAMBDA_ENTRY_POINTS if not (_project_dir() / "lambdas" / f"{h}.py").is_file()]
    if missing:
        manifest.warnings.append(f"handler entry points missing from lambdas/: {missing}")

    step("Flink application zip")
    jars = [Path(j) for j in extra_jars]
    connector = _connector_jar()
    if connector is None:
        manifest.warnings.append("Flink Kafka connector jar not found (run `make setup`); the Flink zip has no jar")
    else:
        jars.insert(0, connector)
    manifest.artifacts[FLINK_ZIP] = build_flink_zip(out, jars=jars, with_dependencies=with_dependencies)

    step("model tarball")
    try:
        artifact, meta = build_model_tarball(out, model_dir or get_settings().model_dir, model_version)
        manifest.artifacts[MODEL_TARBALL] = artifact
        manifest.model = meta
    except PackagingError as exc:
        manifest.warnings.append(str(exc))

    step("nightly job")
    manifest.artifacts[NIGHTLY_JOB] = build_nightly_job(out)
    step("nightly job environment")
    manifest.artifacts[PYSPARK_ENV] = build_pyspark_env(out, prebuilt=pyspark_env, with_dependencies=with_dependencies)
    manifest.write()
    return manifest


# ----------------------------------------------------------------------------- nightly batch


def build_nightly_job(out_dir: Path) -> Artifact:
    """``spark_batch/nightly_job.py``, the EMR Serverless ``EntryPoint`` (arguments only; the logic
    is in the environment archive's ``fraudstream`` package)."""
    source = _project_dir() / "spark_batch" / "nightly_job.py"
    if not source.is_file():
        raise PackagingError(f"{source} not found (FRAUDSTREAM_PROJECT_DIR must name the checkout)")
    path = out_dir / "nightly_job.py"
    shutil.copyfile(source, path)
    return _artifact(NIGHTLY_JOB, path, {"entry_point": "spark_batch/nightly_job.py"}, prefix=BATCH_PREFIX)


def build_pyspark_env(out_dir: Path, *, prebuilt: str | Path | None, with_dependencies: bool) -> Artifact:
    """The job's ``spark.archives`` environment (layouts above). ``prebuilt`` (a venv-pack archive)
    is taken as given after a layout check. Otherwise the site-packages layout is built here: the
    package, plus (``with_dependencies``) Linux cp311 wheels of ``BATCH_REQUIREMENTS`` without
    ``BATCH_PROVIDED``; ``details['python']`` is the interpreter the job must run."""
    if prebuilt is not None:
        return _prebuilt_venv(out_dir, Path(prebuilt))
    files = dict(_package_files(prefix=""))
    if with_dependencies:
        deps = install_linux_dependencies(
            BATCH_REQUIREMENTS, out_dir / ".deps", BATCH_PYTHON, provided=BATCH_PROVIDED, tag="batch"
        )
        files.update(_tree_files(deps, ""))
    path = out_dir / "pyspark_env.tar.gz"
    _write_tar_gz(path, files)
    details = {
        "layout": SITE_PACKAGES,
        "python": RELEASE_PYTHON,
        "python_version": BATCH_PYTHON,
        "release": BATCH_RELEASE,
        "dependencies": str(with_dependencies),
    }
    return _artifact(PYSPARK_ENV, path, details, prefix=BATCH_PREFIX)


def _prebuilt_venv(out_dir: Path, source: Path) -> Artifact:
    """A venv-pack archive built on Amazon Linux (``infra/emr/pyspark-env.Dockerfile``), checked."""
    if not source.is_file():
        raise PackagingError(f"--pyspark-env {source}: no such file")
    try:
        with tarfile.open(source, "r:gz") as tar:
            names = {m.name.removeprefix("./") for m in tar.getmembers()}
    except (tarfile.TarError, OSError) as exc:
        raise PackagingError(f"--pyspark-env {source}: not a .tar.gz ({exc})") from exc
    wanted = {PYSPARK_ENV_PYTHON, f"lib/python{BATCH_PYTHON}/site-packages/fraudstream/__init__.py"}
    if missing := sorted(wanted - names):
        raise PackagingError(f"--pyspark-env {source} lacks {missing} (build it with: {PYSPARK_ENV_HOWTO})")
    path = out_dir / "pyspark_env.tar.gz"
    if source.resolve() != path.resolve():
        shutil.copyfile(source, path)
    details = {"layout": VENV, "python": VENV_PYTHON, "python_version": BATCH_PYTHON, "dependencies": "True"}
    return _artifact(PYSPARK_ENV, path, details, prefix=BATCH_PREFIX)


def _write_tar_gz(path: Path, files: dict[str, Path]) -> None:
    """Sorted, normalised entries and a zero gzip time: the same files always give the same bytes."""
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for name in sorted(files):
            _add_file(tar, name, files[name])


# ----------------------------------------------------------------------------- zips


def build_lambda_zip(out_dir: Path, *, with_dependencies: bool = True) -> Artifact:
    """fraudstream package + ``lambdas/`` entry points (+ Linux wheels of LAMBDA_REQUIREMENTS)."""
    files = dict(_package_files(prefix=""))
    files.update(_tree_files(_project_dir() / "lambdas", "lambdas/"))
    if with_dependencies:
        deps = install_linux_dependencies(LAMBDA_REQUIREMENTS, out_dir / ".deps", LAMBDA_PYTHON)
        files.update(_tree_files(deps, ""))
    path = out_dir / f"{LAMBDA_ZIP}.zip"
    _write_zip(path, files)
    details = {
        "handlers": ", ".join(f"lambdas/{h}.handler" for h in LAMBDA_ENTRY_POINTS),
        "dependencies": str(with_dependencies),
    }
    return _artifact(LAMBDA_ZIP, path, details)


def build_flink_zip(out_dir: Path, *, jars: list[Path], with_dependencies: bool = True) -> Artifact:
    """Managed Flink layout: ``flink_jobs/`` at the root (the ``python`` run option: the door to
    ``fraudstream.streaming.job_main``), Python code under ``src/`` (the ``pyFiles`` run option, which puts
    it on the job's Python path), one merged jar at ``lib/`` (the ``jarfile`` run option)."""
    files = dict(_tree_files(_project_dir() / "flink_jobs", "flink_jobs/"))
    files.update(_package_files(prefix="src/"))
    if with_dependencies:
        deps = install_linux_dependencies(FLINK_REQUIREMENTS, out_dir / ".deps", FLINK_PYTHON)
        files.update(_tree_files(deps, "src/"))
    if jars:
        files[FLINK_JAR_NAME] = merge_jars(jars)
    path = out_dir / f"{FLINK_ZIP}.zip"
    _write_zip(path, files)
    details = {"jars": ", ".join(j.name for j in jars) or "none", "dependencies": str(with_dependencies)}
    return _artifact(FLINK_ZIP, path, details)


def merge_jars(jars: Iterable[Path]) -> bytes:
    """One jar from several (Managed Flink takes a single ``jarfile``): first entry wins, except
    ``META-INF/services`` files, which are concatenated so every connector factory stays registered."""
    entries: dict[str, bytes] = {}
    for jar in jars:
        with zipfile.ZipFile(jar) as zf:
            for info in zf.infolist():
                name = info.filename
                if info.is_dir() or name.upper().endswith((".SF", ".RSA", ".DSA")):
                    continue
                data = zf.read(info)
                if name.startswith("META-INF/services/") and name in entries:
                    entries[name] = entries[name].rstrip(b"\n") + b"\n" + data
                else:
                    entries.setdefault(name, data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name in sorted(entries):
            out.writestr(zipfile.ZipInfo(name, FIXED_ZIP_TIME), entries[name])
    return buffer.getvalue()


def install_linux_dependencies(
    requirements: Iterable[str],
    cache_root: Path,
    python_version: str,
    provided: Iterable[str] = RUNTIME_PROVIDED,
    tag: str = "",
) -> Path:
    """``pip install --target`` of Linux x86_64 CPython wheels, cached by requirement set; the
    distributions ``provided`` by the target runtime are removed."""
    reqs = sorted(requirements)
    provided = tuple(provided)
    key = hashlib.sha256("\n".join([*LINUX_PLATFORMS, python_version, *reqs, tag, *provided]).encode()).hexdigest()[:16]
    target = cache_root / key
    if (target / ".complete").is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target),
        *[arg for platform in LINUX_PLATFORMS for arg in ("--platform", platform)],
        "--implementation", "cp", "--python-version", python_version,
        "--only-binary=:all:", *reqs,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise PackagingError(f"pip could not fetch Linux wheels: {result.stderr.strip()[-2000:]}")
    for name in provided:
        for path in target.glob(f"{name}*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(target / "bin", ignore_errors=True)
    (target / ".complete").touch()
    return target


# ----------------------------------------------------------------------------- model


def build_model_tarball(out_dir: Path, model_dir: str | Path, version: str = "latest") -> tuple[Artifact, dict]:
    """``model.tar.gz`` with the version's files at the root: SageMaker extracts it to
    ``/opt/ml/model``, which the registry reads as a single-model directory."""
    from fraudstream.model.registry import METADATA_FILE, ModelNotFoundError, resolve_version_dir

    try:
        version_dir = resolve_version_dir(model_dir, version)
    except (ModelNotFoundError, FileNotFoundError, OSError) as exc:
        raise PackagingError(f"no model to package ({exc}); train one with `fraudstream train`") from exc
    meta = json.loads((version_dir / METADATA_FILE).read_text())
    path = out_dir / "model.tar.gz"
    # mtime=0 and sorted, normalised entries: the same model always gives the same bytes.
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for file in sorted(p for p in version_dir.rglob("*") if p.is_file()):
            _add_file(tar, file.relative_to(version_dir).as_posix(), file)
    facts = {k: str(meta.get(k, "")) for k in ("version", "feature_set", "threshold")}
    return _artifact(MODEL_TARBALL, path, facts), facts


# ----------------------------------------------------------------------------- helpers


def _connector_jar() -> Path | None:
    try:
        from fraudstream.stack.jars import kafka_connector_jar

        return kafka_connector_jar()
    except Exception:  # not fetched, or the stack module is absent: the caller warns
        return None


def _project_dir() -> Path:
    """The checkout with the entry points (``lambdas/``, ``flink_jobs/``): ``FRAUDSTREAM_PROJECT_DIR``."""
    return get_settings().project_dir


def _package_files(prefix: str) -> Iterable[tuple[str, Path]]:
    yield from _tree_files(PACKAGE_ROOT, f"{prefix}fraudstream/")


def _tree_files(root: Path, prefix: str) -> Iterable[tuple[str, Path]]:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or EXCLUDED_PARTS & set(rel.parts) or path.suffix == ".pyc" or path.name == ".complete":
            continue
        yield f"{prefix}{rel.as_posix()}", path


def _write_zip(path: Path, files: dict[str, Path | bytes]) -> None:
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            source = files[name]
            info = zipfile.ZipInfo(name, FIXED_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, source if isinstance(source, bytes) else source.read_bytes())
    os.replace(tmp, path)


def _add_file(tar: tarfile.TarFile, arcname: str, file: Path) -> None:
    """A normalised entry (mtime 0, root, 0644): the same files always give the same bytes."""
    info = tar.gettarinfo(str(file), arcname=arcname)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    info.mode = 0o644  # not the local mode: the endpoint's non-root user must read a 0600 model.ubj
    with file.open("rb") as fh:
        tar.addfile(info, fh)


def _artifact(name: str, path: Path, details: dict[str, str], prefix: str = "fraudstream") -> Artifact:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Artifact(name=name, path=str(path), sha256=digest, size=path.stat().st_size, details=details, prefix=prefix)
