# graph-assignments: the CLI image. The default command runs a worker; any other command works too:
#   docker run --rm -e REDIS_URL=… graph-assignments status <rolloutId>
FROM node:20-slim

WORKDIR /app

# Sources first: `npm ci` runs the `prepare` script, which compiles them (tsc) into dist/ and copies
# the Redis scripts (*.lua) next to the compiled code that reads them (scripts/copy-lua.mjs).
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY bin ./bin
COPY lib ./lib
COPY cli ./cli
COPY server ./server
COPY emulator ./emulator
COPY producer ./producer
COPY worker ./worker
COPY bench ./bench

# Install everything (TypeScript is a devDependency), build through `prepare`, then drop dev deps.
RUN npm ci \
 && npm prune --omit=dev \
 && npm cache clean --force \
 && mkdir -p /app/.emulator /app/reports \
 && chown node:node /app/.emulator /app/reports

ENV NODE_ENV=production

# The image's own unprivileged user (uid 1000). It can write only /app/.emulator (the emulator's
# certificate) and /app/reports (the demo's report).
USER node

ENTRYPOINT ["node", "bin/assignments.js"]
CMD ["worker"]
