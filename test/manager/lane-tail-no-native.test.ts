// An answer cut off after its header, through a lane without the native part (CONCUR_NO_NATIVE=1): the cases are in lane-tail.ts.
import { laneTailCases } from './lane-tail.js';

laneTailCases(['without the native part (CONCUR_NO_NATIVE=1)', { CONCUR_NO_NATIVE: '1' }]);
