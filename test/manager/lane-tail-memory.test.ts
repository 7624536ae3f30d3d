// An answer cut off after its header, through a lane in memory: the cases are in lane-tail.ts.
import { laneTailCases } from './lane-tail.js';

laneTailCases(['in memory', {}]);
