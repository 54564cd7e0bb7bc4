package likeness

// FioCode is a FACEIO (fio.js) numeric error code. The widget rejects its
// promises with these numbers, so sites written for fio.js keep working.
type FioCode int

// The FACEIO error codes, with FACEIO's names (including its spelling of
// FORBIDDDEN).
const (
	FioPermissionRefused FioCode = 1
	FioNoFacesDetected   FioCode = 2
	FioUnrecognizedFace  FioCode = 3
	FioManyFaces         FioCode = 4
	FioPADAttack         FioCode = 5
	FioFaceMismatch      FioCode = 6
	FioNetworkIO         FioCode = 7
	FioWrongPINCode      FioCode = 8
	FioProcessingErr     FioCode = 9
	FioUnauthorized      FioCode = 10
	FioTermsNotAccepted  FioCode = 11
	FioUINotReady        FioCode = 12
	FioSessionExpired    FioCode = 13
	FioTimeout           FioCode = 14
	FioTooManyRequests   FioCode = 15
	FioEmptyOrigin       FioCode = 16
	FioForbiddenOrigin   FioCode = 17
	FioForbiddenCountry  FioCode = 18
	FioUniquePINRequired FioCode = 19
	FioSessionInProgress FioCode = 20
	FioFaceDuplication   FioCode = 21
	FioMinorsNotAllowed  FioCode = 22
)

var fioNames = map[FioCode]string{
	FioPermissionRefused: "PERMISSION_REFUSED", FioNoFacesDetected: "NO_FACES_DETECTED",
	FioUnrecognizedFace: "UNRECOGNIZED_FACE", FioManyFaces: "MANY_FACES",
	FioPADAttack: "PAD_ATTACK", FioFaceMismatch: "FACE_MISMATCH", FioNetworkIO: "NETWORK_IO",
	FioWrongPINCode: "WRONG_PIN_CODE", FioProcessingErr: "PROCESSING_ERR",
	FioUnauthorized: "UNAUTHORIZED", FioTermsNotAccepted: "TERMS_NOT_ACCEPTED",
	FioUINotReady: "UI_NOT_READY", FioSessionExpired: "SESSION_EXPIRED", FioTimeout: "TIMEOUT",
	FioTooManyRequests: "TOO_MANY_REQUESTS", FioEmptyOrigin: "EMPTY_ORIGIN",
	FioForbiddenOrigin: "FORBIDDDEN_ORIGIN", FioForbiddenCountry: "FORBIDDDEN_COUNTRY",
	FioUniquePINRequired: "UNIQUE_PIN_REQUIRED", FioSessionInProgress: "SESSION_IN_PROGRESS",
	FioFaceDuplication: "FACE_DUPLICATION", FioMinorsNotAllowed: "MINORS_NOT_ALLOWED",
}

// String returns FACEIO's name for the code.
func (c FioCode) String() string {
	if n, ok := fioNames[c]; ok {
		return n
	}
	return "UNKNOWN"
}
