# workerd configuration of worker.ts: one worker behind one HTTP socket on 127.0.0.1:8787.
# `embed` reads the bundle beside this file, so bundle first:
#   deno bundle --platform browser -o examples/workerd/worker.js examples/workerd/worker.ts
#   workerd serve examples/workerd/config.capnp
# Another address: workerd serve examples/workerd/config.capnp --socket-addr http=127.0.0.1:9000
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2025-09-01",
);
