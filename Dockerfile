# syntax=docker/dockerfile:1

# Dependencies only (production set), built once and cached while package-lock.json does not change.
FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Runtime: Node 24 runs the TypeScript sources directly (type stripping), so there is no build step to drift.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY config ./config
COPY migrations ./migrations
COPY views ./views
COPY src ./src
# The server enforces DPoP with the code @gatehouse/guard ships (src/middleware/dpop-proof.ts re-exports it).
COPY packages/guard/src ./packages/guard/src
USER node
EXPOSE 3000
# Asks the server where it listens: loopback behind a wildcard HOST, HOST itself otherwise (as internalOriginFor).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const h = process.env.HOST; const a = !h || h === '0.0.0.0' ? '127.0.0.1' : h === '::' ? '[::1]' : h.includes(':') ? '[' + h + ']' : h; fetch('http://' + a + ':' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains requests in flight and closes the pools (see src/cli/serve-command.ts).
STOPSIGNAL SIGTERM
CMD ["node", "src/main.ts", "serve"]
