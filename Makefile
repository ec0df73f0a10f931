# depcanary: `make run` starts the server (embedded Redis), `make test` runs every test.
SHELL := /bin/bash
.PHONY: run test deps build bench demo mutation clean

deps:
	@scripts/ensure-system.sh redis
	@scripts/ensure-node.sh

build: deps

run: deps
	node dist/server/main.js

test:
	@scripts/test.sh

bench: deps
	@scripts/bench.sh

demo: deps
	node dist/server/demo/main.js

mutation: deps
	@scripts/mutation.sh

clean:
	rm -rf dist var test-output
