package likeness

// Permissions-Policy values. Pages that run the widget (the demo page and
// the privacy page's verification) may use the camera of their own origin;
// every other reply grants no powerful feature at all.
const (
	// PermissionsPolicyNone is every reply's Permissions-Policy.
	PermissionsPolicyNone = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
	// PermissionsPolicyCamera is the policy of a page that runs the widget.
	PermissionsPolicyCamera = "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)
