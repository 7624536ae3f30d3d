import { ProcessPoolExecutor } from '../../src/index.js';
import { mapShutdownSuite } from '../threads/map-shutdown-suite.js';

mapShutdownSuite('ProcessPoolExecutor', () => new ProcessPoolExecutor({ maxWorkers: 2 }));
