/**
 * Locale resolution and the table of every user-visible string of the widget.
 * Keys include the guidance hints of the streaming protocol.
 * @module locale
 */

/** @typedef {Record<string, string>} Strings */

/** @type {Readonly<Record<string, Strings>>} */
export const STRINGS = Object.freeze({
  en: {
    title_enroll: 'Face registration',
    title_authenticate: 'Face sign-in',
    intro_enroll: 'You are about to register your face so you can sign in with it later. Place your face inside the oval and follow the instructions.',
    starting: 'Starting the camera…',
    connecting: 'Connecting…',
    cancel: 'Cancel',
    progress: 'Progress',
    camera_preview: 'Camera preview',
    consent_accept: 'I agree',
    consent_decline: 'Decline',
    privacy_link: 'Privacy policy',
    pin_submit: 'Continue',
    pin_invalid: 'Use digits only, at least {n} of them.',
    pin_enroll: 'Choose a PIN code (at least {n} digits). It protects your face sign-in.',
    pin_confirm: 'Type your PIN code again to confirm it.',
    pin_authenticate: 'Enter your PIN code.',
    pin_retry: 'Wrong PIN code. Please try again.',
    pin_unique: 'This PIN code cannot be used. Please choose another one.',
    no_face: 'No face detected. Look at the camera.',
    many_faces: 'Several faces detected. Only one person, please.',
    move_closer: 'Move closer to the camera.',
    move_back: 'Move back a little.',
    center_face: 'Center your face in the oval.',
    look_at_camera: 'Look straight at the camera.',
    hold_still: 'Hold still…',
    too_dark: 'It is too dark. Find more light.',
    too_blurry: 'The image is blurry. Hold still.',
    blink: 'Blink your eyes.',
    turn_left: 'Turn your head slightly to the left.',
    turn_right: 'Turn your head slightly to the right.',
    processing: 'Processing…',
    ok: 'Done!',
  },
  fr: {
    title_enroll: 'Enregistrement du visage',
    title_authenticate: 'Connexion par le visage',
    intro_enroll: 'Vous allez enregistrer votre visage pour pouvoir vous connecter avec plus tard. Placez votre visage dans l’ovale et suivez les instructions.',
    starting: 'Démarrage de la caméra…',
    connecting: 'Connexion…',
    cancel: 'Annuler',
    progress: 'Progression',
    camera_preview: 'Aperçu de la caméra',
    consent_accept: 'J’accepte',
    consent_decline: 'Refuser',
    privacy_link: 'Politique de confidentialité',
    pin_submit: 'Continuer',
    pin_invalid: 'Chiffres uniquement, au moins {n}.',
    pin_enroll: 'Choisissez un code PIN (au moins {n} chiffres). Il protège votre connexion par le visage.',
    pin_confirm: 'Saisissez de nouveau votre code PIN pour le confirmer.',
    pin_authenticate: 'Saisissez votre code PIN.',
    pin_retry: 'Code PIN erroné. Veuillez réessayer.',
    pin_unique: 'Ce code PIN ne peut pas être utilisé. Veuillez en choisir un autre.',
    no_face: 'Aucun visage détecté. Regardez la caméra.',
    many_faces: 'Plusieurs visages détectés. Une seule personne, s’il vous plaît.',
    move_closer: 'Rapprochez-vous de la caméra.',
    move_back: 'Reculez un peu.',
    center_face: 'Centrez votre visage dans l’ovale.',
    look_at_camera: 'Regardez droit vers la caméra.',
    hold_still: 'Ne bougez plus…',
    too_dark: 'Il fait trop sombre. Cherchez plus de lumière.',
    too_blurry: 'L’image est floue. Ne bougez pas.',
    blink: 'Clignez des yeux.',
    turn_left: 'Tournez légèrement la tête vers la gauche.',
    turn_right: 'Tournez légèrement la tête vers la droite.',
    processing: 'Traitement…',
    ok: 'C’est fait !',
  },
});

/** The guidance hints of the streaming protocol (keys of STRINGS). */
export const HINTS = Object.freeze([
  'no_face', 'many_faces', 'move_closer', 'move_back', 'center_face', 'look_at_camera', 'hold_still',
  'too_dark', 'too_blurry', 'blink', 'turn_left', 'turn_right', 'processing', 'ok',
]);

/** The locale used when the requested one is not supported. */
export const DEFAULT_LOCALE = 'en';

/**
 * Resolves the `locale` parameter to a supported locale.
 * 'auto' (or nothing) uses the browser language; a region is ignored
 * ('fr-CA' → 'fr'); anything unsupported falls back to 'en'.
 * @param {string|undefined} requested the `locale` parameter
 * @param {string|undefined} browserLanguage navigator.language
 * @returns {string}
 */
export function resolveLocale(requested, browserLanguage) {
  const wanted = !requested || requested === 'auto' ? browserLanguage : requested;
  const primary = String(wanted || '').toLowerCase().split(/[-_]/)[0];
  return Object.prototype.hasOwnProperty.call(STRINGS, primary) ? primary : DEFAULT_LOCALE;
}

/**
 * Returns a translator for a supported locale. Unknown keys fall back to
 * English, then to the key itself; `{n}` is replaced by vars.n.
 * @param {string} locale a value returned by resolveLocale
 * @returns {(key: string, vars?: {n?: number}) => string}
 */
export function translator(locale) {
  const table = STRINGS[locale] || STRINGS[DEFAULT_LOCALE];
  return (key, vars = {}) => {
    const text = table[key] ?? STRINGS[DEFAULT_LOCALE][key] ?? key;
    return text.replace('{n}', String(vars.n ?? ''));
  };
}
