import { Pool } from '../../src/index.js';
import { poolSuite } from './pool-suite.js';

poolSuite({ name: 'Pool', make: (p) => new Pool(p) });
