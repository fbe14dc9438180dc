#!/usr/bin/env node
// Node-Media-Server as a test origin (tests/liverec/t-serve-nms.sh), without bin/app.js: that one
// reads and rewrites the package's own config.json (it generates an admin password and a JWT
// secret into it) and listens on 0.0.0.0 with RTMPS and HTTPS as well. Here everything comes from
// the command line and the environment, and only 127.0.0.1 is listened on:
//
//   NMS_ADMIN_PASSWORD=pw node start.js --rtmp-port N --http-port N --notify-url URL --store DIR
//
// --rtmp-port   RTMP (publish and play), on 127.0.0.1
// --http-port   HTTP-FLV and the API (/api/v1/...), on 127.0.0.1
// --notify-url  where NMS posts its notify JSON (prePublish, postPublish, donePublish, ...)
// --store       NMS's JSON store (stream history, relays), in the test's folder
// --modules     the folder holding node_modules/node-media-server (default: build/nms, where
//               liverec/install-deps installs it from tests/liverec/nms/package-lock.json)
// NMS_ADMIN_PASSWORD: the API's user "admin" (POST /api/v1/login for a JWT). The API exists only
// when auth.jwt is configured, so without it there is no status page. The JWT secret is random
// per start. In the environment, not argv, so that ps does not show it.
//
// The webadmin console: 4.4 has webadmin.enable (set false here); 4.3.2 has no switch and serves
// its static pages at /admin whenever they are in the package. They are files only; every API
// call they would make needs the JWT, and the listener is 127.0.0.1.
"use strict";

const crypto = require("node:crypto");
const path = require("node:path");

function usage(msg) {
  process.stderr.write(`start.js: ${msg}\n`);
  process.exit(2);
}

const args = {
  "rtmp-port": process.env.NMS_RTMP_PORT,
  "http-port": process.env.NMS_HTTP_PORT,
  "notify-url": process.env.NMS_NOTIFY_URL || "",
  "store": process.env.NMS_STORE,
  "modules": process.env.NMS_MODULES || path.resolve(__dirname, "../../../build/nms"),
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, "");
  if (!(key in args) || i + 1 >= argv.length)
    usage(`unknown option or missing value: ${argv[i]}`);
  args[key] = argv[i + 1];
}
const port = (name) => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    usage(`--${name} must be a TCP port`);
  return n;
};
if (!args.store)
  usage("--store DIR is required (keep it in the test's folder)");
const password = process.env.NMS_ADMIN_PASSWORD;
if (!password)
  usage("NMS_ADMIN_PASSWORD must be set (the API's admin password)");

let NodeMediaServer;
try {
  NodeMediaServer = require(require.resolve("node-media-server", { paths: [args.modules] }));
} catch (e) {
  usage(`node-media-server is not installed in ${args.modules} (liverec/install-deps installs it): ${e.message}`);
}

const config = {
  bind: "127.0.0.1",
  rtmp: { port: port("rtmp-port") },
  http: { port: port("http-port") },
  notify: { url: args["notify-url"] },
  store: { path: path.resolve(args.store) },
  webadmin: { enable: false },
  auth: {
    play: false,
    publish: false,
    secret: "",
    jwt: {
      secret: crypto.randomBytes(32).toString("hex"),
      algorithm: "HS256",
      expiresIn: "1h",
      users: [{ username: "admin", password, role: "admin" }],
    },
  },
};

const nms = new NodeMediaServer(config);
nms.run();

let stopping = false;
const stop = async () => {
  if (stopping)
    return;
  stopping = true;
  try {
    await nms.stop();
  } finally {
    process.exit(0);
  }
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
