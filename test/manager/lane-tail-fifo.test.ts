// An answer cut off after its header, through a lane by FIFO alone (CONCUR_LANE_MEMORY=0): the cases are in lane-tail.ts.
import { laneTailCases } from './lane-tail.js';

laneTailCases(['by FIFO alone (CONCUR_LANE_MEMORY=0)', { CONCUR_LANE_MEMORY: '0' }]);
