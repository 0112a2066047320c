import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** The service's Prometheus metrics (prom-client), in a registry of its own plus the process defaults. */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'status'>;
  readonly latency: Histogram<'route'>;
  readonly queueWait: Histogram;
  readonly batchSize: Histogram<'kind'>;
  readonly images: Counter;
  readonly texts: Counter;

  constructor(queueDepth: () => number, inService: () => number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'blip_itm_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'blip_itm_request_duration_seconds',
      help: 'Time from request to response, by route',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.queueWait = new Histogram({
      name: 'blip_itm_queue_wait_seconds',
      help: 'Time an admitted request waited before its first model work',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'blip_itm_batch_size',
      help: 'Items per model call of the dynamic batcher (kind: image or text)',
      labelNames: ['kind'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.images = new Counter({ name: 'blip_itm_images_total', help: 'Images encoded', registers });
    this.texts = new Counter({ name: 'blip_itm_texts_total', help: 'Texts encoded or matched', registers });
    new Gauge({
      name: 'blip_itm_queue_depth',
      help: 'Admitted requests waiting for the model',
      registers,
      collect() {
        this.set(queueDepth());
      },
    });
    new Gauge({
      name: 'blip_itm_requests_in_service',
      help: 'Admitted requests whose model work has started and not finished',
      registers,
      collect() {
        this.set(inService());
      },
    });
  }
}
