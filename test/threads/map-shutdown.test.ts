import { ThreadPoolExecutor } from '../../src/index.js';
import { mapShutdownSuite } from './map-shutdown-suite.js';

mapShutdownSuite('ThreadPoolExecutor', () => new ThreadPoolExecutor({ maxWorkers: 2 }));
