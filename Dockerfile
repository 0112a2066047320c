# blip-itm serve: the HTTP service in a container (docs/deploy.md).
#   docker build -t blip-itm .
#   docker run -p 8080:8080 -v /srv/models/blip-itm-base-coco:/models/blip-itm:ro \
#     -e BLIP_ITM_MODEL=/models/blip-itm -e BLIP_ITM_API_KEY=... blip-itm
# Without a mounted model, BLIP_ITM_MODEL is a hub id, downloaded at start into $HF_HOME (mount a volume there).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: nothing is downloaded beyond the npm registry (tfjs-node is never installed).
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bin ./bin
COPY vendor ./vendor
RUN npx tsc -p . && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    BLIP_ITM_MODEL=Salesforce/blip-itm-base-coco \
    HF_HOME=/cache/huggingface
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/bin ./bin
COPY --from=build /app/vendor ./vendor
COPY --from=build /app/src/inspector/page ./src/inspector/page
RUN mkdir -p /cache/huggingface /models && chown -R node:node /cache
USER node
EXPOSE 8080
# Liveness only: readiness (/ready) is the orchestrator's to probe. The model load can take a minute.
HEALTHCHECK --interval=15s --timeout=3s --start-period=180s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains (requests in flight finish, at most --grace-s) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/blip-itm.js", "serve", "--host", "0.0.0.0", "--port", "8080"]
CMD []
