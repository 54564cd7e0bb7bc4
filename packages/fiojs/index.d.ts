// Types of @likeness/fiojs: the fio.js-compatible faceIO class.

/** Parameters of enroll() and authenticate(); timeouts in seconds except termsTimeout (minutes). */
export interface FaceIOParams {
  payload?: unknown;
  locale?: string;
  userConsent?: boolean;
  permissionTimeout?: number;
  termsTimeout?: number;
  idleTimeout?: number;
  replyTimeout?: number;
  enrollIntroTimeout?: number;
  /** false: no success/error screen; the promise settles as the operation ends. */
  outcomeScreens?: boolean;
  outcomeTimeout?: number;
}

export interface EnrollResult {
  facialId: string;
  timestamp: string;
  details: Record<string, unknown>;
  token: string;
}

export interface AuthenticateResult {
  facialId: string;
  payload: unknown;
  token: string;
}

/** A FACEIO-compatible widget bound to one application. Promises reject with FACEIO's numeric error codes. */
declare class faceIO {
  constructor(publicId: string, options?: { host?: string });
  enroll(params?: FaceIOParams): Promise<EnrollResult>;
  enrol(params?: FaceIOParams): Promise<EnrollResult>;
  register(params?: FaceIOParams): Promise<EnrollResult>;
  record(params?: FaceIOParams): Promise<EnrollResult>;
  authenticate(params?: FaceIOParams): Promise<AuthenticateResult>;
  auth(params?: FaceIOParams): Promise<AuthenticateResult>;
  recognize(params?: FaceIOParams): Promise<AuthenticateResult>;
  identify(params?: FaceIOParams): Promise<AuthenticateResult>;
  restartSession(params?: unknown): true;
  fetchAllErrorCodes(): Readonly<Record<string, number>>;
}

/** FACEIO error names → codes (1 PERMISSION_REFUSED … 22 MINORS_NOT_ALLOWED). */
export const fioErrCode: Readonly<Record<string, number>>;
export { faceIO };
export default faceIO;
