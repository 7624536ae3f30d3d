import { ThreadPoolExecutor } from '../../src/index.js';
import { loadDeathsSuite } from './load-deaths-suite.js';

loadDeathsSuite('ThreadPoolExecutor', 'thread', (options) => new ThreadPoolExecutor(options));
