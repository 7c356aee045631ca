"""The Apache Spark engine: the same SQL as DuckDB's, run by PySpark in local mode or on a cluster.

``master`` is ``local[N]`` (N cores of this machine, the default ``local[2]``) or a cluster URL
(``spark://host:7077``, ``yarn``, ``k8s://...``). On a cluster the person files must be where every
executor can read them (HDFS, S3, a shared file system): staged files are written to the work folder,
which must then be shared too (``--work-dir``).

A process has one Spark session: an engine reuses the active one (its master and options win) and
stops it on :meth:`close` only if it started it. Spark needs Java 17 or later.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pyarrow as pa
from py4j.protocol import Py4JError
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from imdx.census.engine import Dialect, Engine
from imdx.census.errors import CensusError
from imdx.census.read import PersonFiles

DIALECT = Dialect("`")
_VIEWS = itertools.count()
_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{1}: %m%n
"""


def java_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (java_home and (Path(java_home) / "bin" / "java").exists()))


def _log4j_file() -> str:
    path = Path(tempfile.gettempdir()) / "imdx-spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J:
        path.write_text(_LOG4J)
    return str(path)


class SparkEngine(Engine):
    name = "spark"
    dialect = DIALECT
    location = "named_struct('f', `__file`, 'r', `__row`)"

    @staticmethod
    def param(name: str) -> str:
        return ":" + name

    def __init__(self, *, master: str = "local[2]", shuffle_partitions: int = 8, conf: dict | None = None,
                 driver_memory: str = "1g"):
        if not java_available():
            raise CensusError("the Spark engine needs Java 17 or later, which is not installed: on Debian or Ubuntu "
                              "`apt-get install default-jre-headless`, or set JAVA_HOME; or use --engine duckdb")
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        logging.getLogger("py4j").setLevel(logging.ERROR)
        self.owns = SparkSession.getActiveSession() is None
        builder = (SparkSession.builder.master(master).appName("imdx-census")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
                   .config("spark.driver.memory", driver_memory)
                   .config("spark.log.structuredLogging.enabled", "false")
                   .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{_log4j_file()}")
                   .config("spark.sql.session.timeZone", "UTC"))
        for key, value in (conf or {}).items():
            builder = builder.config(key, str(value))
        try:
            self.spark = builder.getOrCreate()
        except (PySparkException, Py4JError) as err:  # the JVM did not start: old Java, no cluster at that URL
            raise CensusError(f"Spark could not start ({master}): {str(err).splitlines()[0][:300]}") from None
        self.spark.sparkContext.setLogLevel("ERROR")
        if not self.owns:
            for key, value in {"spark.sql.shuffle.partitions": shuffle_partitions, **(conf or {})}.items():
                with contextlib.suppress(PySparkException, Py4JError):  # a static setting: the session keeps its own
                    self.spark.conf.set(key, str(value))
        self._views: dict[tuple, str] = {}

    def close(self) -> None:
        for view in self._views.values():
            self.spark.catalog.dropTempView(view)
        self._views.clear()
        if self.owns:
            self.spark.stop()

    def source(self, files: PersonFiles, located: bool = False) -> str:
        key = (tuple(files.paths), tuple(_stamp(p) for p in files.paths), located)
        if key not in self._views:
            for path in files.paths:  # a file rewritten since Spark last listed it is read anew
                self.spark.catalog.refreshByPath(path)
            frame = self.spark.read.parquet(*files.paths)
            if located:
                frame = frame.selectExpr("*", "_metadata.file_path AS `__file`", "_metadata.row_index AS `__row`")
            name = f"imdx_persons_{next(_VIEWS)}"
            frame.createOrReplaceTempView(name)
            self._views[key] = name
        return self._views[key]

    def execute(self, sql: str, params: dict | None) -> pa.Table:
        try:
            return self.spark.sql(sql, args=params or None).toArrow()
        except (PySparkException, Py4JError) as err:
            raise CensusError(f"Spark could not tabulate the files: {str(err).splitlines()[0][:500]}") from None

    def fraction(self) -> float | None:
        done = total = 0
        tracker = self.spark.sparkContext.statusTracker()
        for stage in tracker.getActiveStageIds():
            info = tracker.getStageInfo(stage)
            if info is not None:
                done, total = done + info.numCompletedTasks, total + info.numTasks
        return done / total if total else None


def _stamp(path: str) -> tuple[int, int] | None:
    """Size and modification time of a local file (None for a cluster's URL)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns
