# Spillway — everyday commands. `make` alone lists them.
#
# Every target that runs Java picks a JDK 21+ with ops/find-jdk.sh (JAVA_HOME if it is new
# enough, else one under /usr/lib/jvm) and exports it as JAVA_HOME, so Maven and the demo use
# the same one whatever `java` on PATH is.

.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

MVN ?= mvn
# e.g. make bench BENCH_OPTS='-Dbench.seconds=10 -Dbench.only=1,2'
BENCH_OPTS ?=
# make soak QUICK=1 runs the soak for 2 minutes instead of 10; see ops/soak.sh for SOAK_* settings.
QUICK ?= $(SOAK_QUICK)
JAR := target/spillway.jar
# Expanded inside recipes, after WITH_JDK has set JAVA_HOME; override with `make run JAVA=...`.
JAVA ?= "$$JAVA_HOME/bin/java"
# Every JVM we start: an OutOfMemoryError anywhere (Netty, Lettuce, a job) ends the process
# instead of leaving it running half broken; a supervisor restarts it, Redis keeps the counts.
JAVA_OPTS ?= -XX:+ExitOnOutOfMemoryError
# Prefix for recipe lines that need a JDK; a failed search stops the recipe with its sentence.
WITH_JDK = JAVA_HOME="$$(ops/find-jdk.sh)"; export JAVA_HOME;

.PHONY: help build run test fmt bench soak clean

help: ## List the targets
	@echo "Spillway — make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-7s %s\n", $$1, $$2}'

build: ## Compile and package target/spillway.jar (no tests)
	@$(WITH_JDK) $(MVN) -B -q package -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true
	@echo "built $(JAR)"

run: build ## Build, then run the demo (starts embedded Redis/PostgreSQL if none answer)
	@$(WITH_JDK) $(JAVA) $(JAVA_OPTS) -jar $(JAR) demo

# verify, not test: after the unit tests, the packaged jars go through src/it (a plain Maven
# application that depends on the library jar, see pom.xml's maven-invoker-plugin). The format
# check comes first: it takes seconds, the tests take minutes. One line per test class: each
# class's log goes to target/surefire-reports/<class>-output.txt, and surefire's "Running" line
# is dropped (its result line names the class); failures print in full.
test: ## Check the format, then run all tests against real Redis and PostgreSQL (see DESIGN.md)
	@$(WITH_JDK) $(MVN) -B -q spotless:check || { echo "unformatted Java files (listed above): run 'make fmt'"; exit 1; }
	@$(WITH_JDK) $(MVN) -B verify | grep --line-buffered -v '^\[INFO\] Running dev\.spillway\.'

fmt: ## Format every Java file (google-java-format, through Spotless)
	@$(WITH_JDK) $(MVN) -B -q spotless:apply

bench: ## Run the benchmarks (peers measured in the same run); results in target/bench/
	@$(WITH_JDK) $(MVN) -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test
	@$(WITH_JDK) $(JAVA) $(JAVA_OPTS) -Xmx4g -cp "target/classes:target/test-classes:$$(cat target/bench-classpath.txt)" $(BENCH_OPTS) dev.spillway.bench.BenchMain target/bench

soak: ## Soak a real worker (256 MB heap) under steady load, 10 min (QUICK=1: 2 min); not part of test
	@$(WITH_JDK) $(MVN) -B -q package dependency:build-classpath -DskipTests -Dmdep.outputFile=target/soak-classpath.txt -Dmdep.includeScope=test
	@$(WITH_JDK) SOAK_QUICK="$(QUICK)" ops/soak.sh

clean: ## Delete build output
	rm -rf target
