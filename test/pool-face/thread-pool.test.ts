import { ThreadPool, type Pool } from '../../src/index.js';
import { poolSuite } from './pool-suite.js';

poolSuite({ name: 'ThreadPool', make: (p) => new ThreadPool(p) as unknown as Pool });
