import { runAdapterConformance } from '@tiergate/testing';
import { startFastifyServer } from './conformance-server.js';

runAdapterConformance('fastify', startFastifyServer);
