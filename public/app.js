// First-run and sign-in pages. Plain DOM code served as a file, so the Content-Security-Policy can
// forbid every inline script and style. Text from the server is only ever set as textContent.

const TEXT = {
  en: {
    tagline: 'Customer data that does not leak, get lost or get misused.',
    loading: 'Loading…',
    setupHeading: 'Create the first administrator',
    setupIntro: 'This one-time link creates the first administrator account. It works once, and only for an hour after the server printed it.',
    setupMissingHeading: 'Setup link needed',
    setupMissing: 'This page needs the one-time setup link the server printed when it first started. Open that link exactly as printed; if it has expired, restart the server for a new one.',
    setupDone: 'Rampart is already set up. Sign in with your account.',
    email: 'Email',
    name: 'Name',
    password: 'Password',
    passwordHint: 'At least 12 characters. A passphrase of a few words is easy to remember and hard to guess.',
    create: 'Create administrator',
    loginHeading: 'Sign in',
    signIn: 'Sign in',
    signOut: 'Sign out',
    welcome: 'You are signed in',
    signedInAs: 'Signed in as {name} ({email})',
    signedInNote: 'The full web app is on its way; meanwhile the REST API is ready to use.',
    signedOut: 'You have signed out.',
    docsLine: 'Developers: the REST API is documented at',
    working: 'Working…',
    required: 'Fill in this field.',
    invalidEmail: 'Enter an email address.',
    tooShort: 'Use at least 12 characters.',
    checkFields: 'Check the fields marked below.',
    network: 'Could not reach the server. Check the connection and try again.',
    unexpected: 'The server gave an answer this page does not understand. Try again.',
    mfaHeading: 'Second step',
    mfaIntro: 'Enter the six-digit code your authenticator app shows for Rampart. Lost your phone? Enter one of your recovery codes instead.',
    mfaCode: 'Code or recovery code',
    verify: 'Verify',
    enrolHeading: 'Set up two-step sign-in',
    enrolIntro: 'Your role requires a second step at sign-in. Add Rampart to an authenticator app on your phone with this key, or open the link on the phone, then enter the code the app shows.',
    enrolKey: 'Key',
    enrolLink: 'Open in an authenticator app',
    enrolCode: 'Code from the app',
    recoveryHeading: 'Your recovery codes',
    recoveryIntro: 'If you lose your phone, each of these codes signs you in once. Keep them somewhere safe, away from the phone. They are shown only now.',
    recoveryDone: 'I have kept them',
    passkeySignIn: 'Sign in with a passkey',
    usePasskey: 'Use a passkey',
    enrolPasskey: 'Use a passkey instead',
    passkeyUnsupported: 'This browser cannot use passkeys here. Passkeys need a secure address (HTTPS, or localhost).',
    passkeyCancelled: 'The passkey was not used. Try again, or use another way.',
    ssoSignIn: 'Sign in with {name}',
    ssoRefused: 'Single sign-on did not let you in: your account may be disabled, your address not verified at the provider, or your groups there may give you no role here. Ask an administrator.',
    ssoNoAccount: 'There is no account for you here yet. Ask an administrator to create one.',
    ssoStateInvalid: 'That single sign-on attempt expired or began in another browser. Try again.',
    ssoUnavailable: 'The single sign-on provider cannot be reached. Try again later, or sign in another way.',
    ssoFailed: 'Single sign-on did not work. Try again, or sign in another way.',
    forgotLink: 'Forgot your password?',
    forgotHeading: 'Set a new password',
    forgotIntro: 'Enter the email address you sign in with. If it has an account here, a link to set a new password is mailed to it; the link works once, for 30 minutes.',
    sendLink: 'Send the link',
    backToLogin: 'Back to sign-in',
    linkSent: 'If an account signs in with that address, a link to set a new password is on its way. Check your mail.',
    resetHeading: 'Choose a new password',
    resetIntro: 'Your new password ends every session of your account. If your account has a second step, it is still asked when you sign in.',
    newPassword: 'New password',
    passwordRules: 'At least 15 characters, or 12 if you sign in with a second step. A passphrase of a few words is easy to remember and hard to guess.',
    setPassword: 'Set password',
    askAgain: 'Ask for a new link',
    resetMissing: 'This page needs the link from the mail exactly as sent. Ask for a new one if it has expired.',
    passwordSet: 'Your new password is set. Sign in with it.',
    noticesHeading: 'Security notices',
    noticesEmpty: 'Nothing to report: no new devices, no changes to your sign-in.',
    markAllRead: 'Mark all read',
    unreadCount: '{count} new',
    changePasswordHeading: 'Change your password',
    currentPassword: 'Current password',
    changePassword: 'Change password',
    passwordChanged: 'Your password is changed. Your other sessions have ended.',
  },
  'zh-CN': {
    tagline: '客户数据不泄露、不丢失、不被滥用。',
    loading: '正在加载…',
    setupHeading: '创建第一位管理员',
    setupIntro: '此一次性链接用于创建第一个管理员账户。它只能使用一次，并在服务器打印后一小时内有效。',
    setupMissingHeading: '需要设置链接',
    setupMissing: '此页面需要服务器首次启动时打印的一次性设置链接。请按原样打开该链接；如果已过期，请重启服务器以获得新链接。',
    setupDone: 'Rampart 已完成设置。请用您的账户登录。',
    email: '电子邮箱',
    name: '姓名',
    password: '密码',
    passwordHint: '至少 12 个字符。由几个词组成的密码短语既好记又难猜。',
    create: '创建管理员',
    loginHeading: '登录',
    signIn: '登录',
    signOut: '退出登录',
    welcome: '您已登录',
    signedInAs: '当前登录：{name}（{email}）',
    signedInNote: '完整的网页应用即将推出；在此期间，REST API 已可使用。',
    signedOut: '您已退出登录。',
    docsLine: '开发者：REST API 文档位于',
    working: '处理中…',
    required: '请填写此字段。',
    invalidEmail: '请输入电子邮箱地址。',
    tooShort: '请至少输入 12 个字符。',
    checkFields: '请检查下方标出的字段。',
    network: '无法连接服务器。请检查网络连接后重试。',
    unexpected: '服务器的响应无法识别，请重试。',
    mfaHeading: '第二步验证',
    mfaIntro: '请输入身份验证器应用为 Rampart 显示的六位数验证码。手机丢失？请改为输入一个恢复码。',
    mfaCode: '验证码或恢复码',
    verify: '验证',
    enrolHeading: '设置两步登录',
    enrolIntro: '您的角色要求登录时进行第二步验证。请在手机上的身份验证器应用中用此密钥添加 Rampart，或在手机上打开链接，然后输入应用显示的验证码。',
    enrolKey: '密钥',
    enrolLink: '在身份验证器应用中打开',
    enrolCode: '应用显示的验证码',
    recoveryHeading: '您的恢复码',
    recoveryIntro: '如果手机丢失，每个恢复码可登录一次。请将它们存放在安全的地方，不要与手机放在一起。恢复码仅显示这一次。',
    recoveryDone: '我已保存',
    passkeySignIn: '使用通行密钥登录',
    usePasskey: '使用通行密钥',
    enrolPasskey: '改用通行密钥',
    passkeyUnsupported: '此浏览器无法在这里使用通行密钥。通行密钥需要安全地址（HTTPS 或 localhost）。',
    passkeyCancelled: '未使用通行密钥。请重试，或改用其他方式。',
    ssoSignIn: '使用 {name} 登录',
    ssoRefused: '单点登录未能让您登录：您的账户可能已停用，您的邮箱地址可能未在身份提供方处验证，或您在那里的用户组在此没有对应的角色。请联系管理员。',
    ssoNoAccount: '您在这里还没有账户。请联系管理员为您创建。',
    ssoStateInvalid: '该单点登录尝试已过期，或是在另一个浏览器中开始的。请重试。',
    ssoUnavailable: '无法连接单点登录身份提供方。请稍后重试，或改用其他方式登录。',
    ssoFailed: '单点登录未成功。请重试，或改用其他方式登录。',
    forgotLink: '忘记密码？',
    forgotHeading: '设置新密码',
    forgotIntro: '输入您登录使用的电子邮箱。如果该地址在此有账户，我们会向其发送设置新密码的链接；链接只能使用一次，30 分钟内有效。',
    sendLink: '发送链接',
    backToLogin: '返回登录',
    linkSent: '如果有账户使用该地址登录，设置新密码的链接已在发送途中。请查收邮件。',
    resetHeading: '选择新密码',
    resetIntro: '新密码会结束您账户的所有会话。如果您的账户启用了第二步验证，登录时仍需完成。',
    newPassword: '新密码',
    passwordRules: '至少 15 个字符；如果登录时有第二步验证，至少 12 个字符。由几个词组成的口令短语好记又难猜。',
    setPassword: '设置密码',
    askAgain: '重新获取链接',
    resetMissing: '此页面需要邮件中的完整链接。如果链接已过期，请重新获取。',
    passwordSet: '新密码已设置，请用它登录。',
    noticesHeading: '安全通知',
    noticesEmpty: '暂无需要报告的事项：没有新设备，登录方式也没有变化。',
    markAllRead: '全部标为已读',
    unreadCount: '{count} 条新通知',
    changePasswordHeading: '修改密码',
    currentPassword: '当前密码',
    changePassword: '修改密码',
    passwordChanged: '密码已修改，您的其他会话均已结束。',
  },
};

/** What the page says for each error code single sign-on can come back with; the code is all it is given. */
const SSO_ERRORS = {
  'auth.sso_refused': 'ssoRefused',
  'auth.sso_no_account': 'ssoNoAccount',
  'auth.sso_state_invalid': 'ssoStateInvalid',
  'auth.sso_unavailable': 'ssoUnavailable',
};

const locale = (navigator.languages?.[0] ?? navigator.language ?? 'en').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
const t = (key, values = {}) => (TEXT[locale][key] ?? TEXT.en[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));

const VIEWS = ['loading', 'setup', 'setup-missing', 'login', 'forgot', 'reset', 'mfa', 'enrol', 'recovery', 'signed-in'];
const byId = (id) => document.getElementById(id);

/** The CSRF token of the current session; it lives only in this page's memory. */
let csrfToken = null;

function translatePage() {
  document.documentElement.lang = locale;
  for (const node of document.querySelectorAll('[data-text]')) node.textContent = t(node.dataset.text);
}

function show(view, heading = true) {
  for (const id of VIEWS) byId(id).hidden = id !== view;
  // Move focus to the new heading so screen readers announce where the user now is.
  const h1 = byId(view).querySelector('h1');
  if (heading && h1) h1.focus();
}

/** Calls the API; answers `{ ok, status, body }`, with body `null` when it is not JSON. */
async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (csrfToken && method !== 'GET') headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  let parsed = null;
  if (response.status !== 204) {
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

function clearErrors(form) {
  const formError = form.querySelector('.form-error');
  formError.hidden = true;
  formError.textContent = '';
  for (const input of form.querySelectorAll('input')) {
    input.removeAttribute('aria-invalid');
    const slot = byId(`${input.id}-error`);
    if (slot) {
      slot.hidden = true;
      slot.textContent = '';
    }
  }
}

function fieldError(form, field, message) {
  const input = form.querySelector(`input[name="${CSS.escape(field)}"]`);
  const slot = input && byId(`${input.id}-error`);
  if (!slot) return false;
  slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
  slot.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  return true;
}

function formError(form, message) {
  const box = form.querySelector('.form-error');
  box.textContent = message;
  box.hidden = false;
}

/** Shows an API error: the message above the form, each field's problem beside that field. */
function showApiError(form, result) {
  const error = result.body?.error;
  if (!error || typeof error.message !== 'string') {
    formError(form, t('unexpected'));
    return;
  }
  const unplaced = [];
  for (const problem of Array.isArray(error.fields) ? error.fields : []) {
    if (typeof problem?.field !== 'string' || typeof problem?.message !== 'string') continue;
    if (!fieldError(form, problem.field, capitalise(problem.message))) unplaced.push(`${problem.field} ${problem.message}`);
  }
  formError(form, [error.message, ...unplaced].join(' '));
  form.querySelector('[aria-invalid="true"]')?.focus();
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The browser's own checks, with messages in the page's language, before anything is sent. */
function checkLocally(form) {
  let ok = true;
  for (const input of form.querySelectorAll('input')) {
    const v = input.validity;
    const message = v.valueMissing ? t('required') : v.typeMismatch ? t('invalidEmail') : v.tooShort ? t('tooShort') : null;
    if (message) {
      fieldError(form, input.name, message);
      ok = false;
    }
  }
  if (!ok) {
    formError(form, t('checkFields'));
    form.querySelector('[aria-invalid="true"]')?.focus();
  }
  return ok;
}

async function submit(form, send) {
  clearErrors(form);
  if (!checkLocally(form)) return;
  const button = form.querySelector('button[type="submit"]');
  const label = button.textContent;
  button.disabled = true;
  button.textContent = t('working');
  form.setAttribute('aria-busy', 'true');
  try {
    await send();
  } catch {
    formError(form, t('network'));
  } finally {
    button.disabled = false;
    button.textContent = label;
    form.removeAttribute('aria-busy');
  }
}

function showSignedIn(session) {
  csrfToken = session.csrfToken;
  byId('sso-error').hidden = true;
  byId('signed-in-as').textContent = t('signedInAs', { name: session.user.name, email: session.user.email });
  if (location.pathname !== '/') history.replaceState(null, '', '/');
  show('signed-in');
  loadNotices().catch(() => undefined);
}

/** The user's security notices, newest first; what they say comes from the server, set as text. */
async function loadNotices() {
  const result = await api('GET', '/api/v1/notices?limit=20');
  const list = byId('notices');
  const failure = byId('notices-error');
  list.replaceChildren();
  failure.hidden = result.ok;
  if (!result.ok) {
    failure.textContent = result.body?.error?.message ?? t('unexpected');
    return;
  }
  const { items, unread } = result.body;
  for (const notice of items) {
    const item = document.createElement('li');
    item.className = notice.readAt ? 'notice-item' : 'notice-item unread';
    const title = document.createElement('strong');
    title.textContent = notice.title;
    const when = document.createElement('time');
    when.dateTime = notice.createdAt;
    when.textContent = new Date(notice.createdAt).toLocaleString(locale);
    const body = document.createElement('p');
    body.textContent = notice.body;
    item.append(title, ' ', when, body);
    list.append(item);
  }
  byId('notices-empty').hidden = items.length > 0;
  const badge = byId('notices-unread');
  badge.textContent = t('unreadCount', { count: unread });
  badge.hidden = unread === 0;
  byId('notices-read').hidden = unread === 0;
}

/** Where a sign-in goes next: a second factor, setting one up, or done. */
async function showSession(session) {
  csrfToken = session.csrfToken;
  if (session.stage === 'mfa') return show('mfa');
  if (session.stage === 'enrol') return startEnrolment();
  showSignedIn(session);
}

/** The authenticator app's key for this sign-in; the factor is in use once a code confirms it. */
let enrolment = null;

async function startEnrolment() {
  const result = await api('POST', '/api/v1/auth/mfa/totp', {});
  if (!result.ok || !result.body?.secret) return showLogin(result.body?.error?.message ?? t('unexpected'));
  enrolment = result.body;
  // Grouped in fours, as authenticator apps show keys to type.
  byId('enrol-secret').textContent = enrolment.secret.match(/.{1,4}/g).join(' ');
  byId('enrol-link').href = enrolment.uri;
  show('enrol');
}

function showRecoveryCodes(codes, then) {
  const list = byId('recovery-codes');
  list.replaceChildren(...codes.map((code) => {
    const item = document.createElement('li');
    item.textContent = code;
    return item;
  }));
  byId('recovery-done').onclick = then;
  show('recovery');
}

/**
 * Runs a WebAuthn ceremony with the options the server sent (JSON form) and answers the
 * credential as JSON, or shows why it could not in `box`.
 */
async function passkeyCeremony(kind, options, box) {
  box.hidden = true;
  if (!window.PublicKeyCredential?.parseCreationOptionsFromJSON || !window.isSecureContext) {
    box.textContent = t('passkeyUnsupported');
    box.hidden = false;
    return null;
  }
  try {
    const credential =
      kind === 'create'
        ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
        : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
    return credential ? credential.toJSON() : null;
  } catch {
    box.textContent = t('passkeyCancelled');
    box.hidden = false;
    return null;
  }
}

function showApiProblem(box, result) {
  box.textContent = result.body?.error?.message ?? t('unexpected');
  box.hidden = false;
}

/** The secret of a password reset link; like the setup secret, it lives only in this page's memory. */
let resetToken = null;

function showForgot() {
  if (location.pathname !== '/reset-password') history.replaceState(null, '', '/reset-password');
  show('forgot');
}

function showLogin(notice) {
  const box = byId('login-notice');
  box.textContent = notice ?? '';
  box.hidden = !notice;
  if (location.pathname !== '/login') history.replaceState(null, '', '/login');
  show('login');
}

/**
 * Offers single sign-on when the server has a provider, and shows why the last attempt came back
 * refused. The provider's name is set as text; the error is looked up by its code, never shown as given.
 */
async function showSignInMethods(ssoError) {
  if (ssoError !== null) {
    const box = byId('sso-error');
    box.textContent = t(Object.hasOwn(SSO_ERRORS, ssoError) ? SSO_ERRORS[ssoError] : 'ssoFailed');
    box.hidden = false;
  }
  const methods = await api('GET', '/api/v1/auth/methods');
  const name = methods.ok ? methods.body?.oidc?.name : undefined;
  if (typeof name !== 'string') return;
  const button = byId('sso-sign-in');
  button.textContent = t('ssoSignIn', { name });
  button.hidden = false;
}

function wireForms(setupToken) {
  const setupForm = byId('setup-form');
  setupForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(setupForm, async () => {
      const data = new FormData(setupForm);
      const result = await api('POST', '/api/v1/setup', { token: setupToken ?? '', email: data.get('email'), name: data.get('name'), password: data.get('password') });
      if (result.ok && result.body?.user) await showSession(result.body);
      else showApiError(setupForm, result);
    });
  });

  const loginForm = byId('login-form');
  loginForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(loginForm, async () => {
      const data = new FormData(loginForm);
      const result = await api('POST', '/api/v1/auth/login', { email: data.get('email'), password: data.get('password') });
      if (result.ok && result.body?.user) {
        loginForm.reset();
        await showSession(result.body);
      } else showApiError(loginForm, result);
    });
  });

  const mfaForm = byId('mfa-form');
  mfaForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(mfaForm, async () => {
      const entered = String(new FormData(mfaForm).get('code')).replace(/\s+/g, '');
      const proof = /^\d{6}$/.test(entered) ? { code: entered } : { recoveryCode: entered };
      const result = await api('POST', '/api/v1/auth/mfa/verify', proof);
      if (result.ok && result.body?.user) {
        mfaForm.reset();
        showSignedIn(result.body);
      } else if (result.body?.error?.code === 'auth.session_expired') showLogin(result.body.error.message);
      else showApiError(mfaForm, result);
    });
  });

  byId('passkey-sign-in').addEventListener('click', async () => {
    const box = byId('passkey-error');
    const challenge = await api('POST', '/api/v1/auth/passkeys/sign-in-options');
    if (!challenge.ok) return showApiProblem(box, challenge);
    const response = await passkeyCeremony('get', challenge.body.options, box);
    if (!response) return;
    const result = await api('POST', '/api/v1/auth/passkeys/sign-in', { challengeId: challenge.body.challengeId, response });
    if (result.ok && result.body?.user) showSignedIn(result.body);
    else showApiProblem(box, result);
  });

  // A navigation, not a request: the server sends the browser on to the provider.
  byId('sso-sign-in').addEventListener('click', () => location.assign('/api/v1/auth/oidc/start'));

  byId('mfa-passkey').addEventListener('click', async () => {
    const box = byId('mfa-passkey-error');
    const challenge = await api('POST', '/api/v1/auth/passkeys/challenge');
    if (!challenge.ok) return showApiProblem(box, challenge);
    const response = await passkeyCeremony('get', challenge.body.options, box);
    if (!response) return;
    const result = await api('POST', '/api/v1/auth/mfa/verify', { passkey: { challengeId: challenge.body.challengeId, response } });
    if (result.ok && result.body?.user) showSignedIn(result.body);
    else if (result.body?.error?.code === 'auth.session_expired') showLogin(result.body.error.message);
    else showApiProblem(box, result);
  });

  byId('enrol-passkey').addEventListener('click', async () => {
    const box = byId('enrol-passkey-error');
    const challenge = await api('POST', '/api/v1/auth/passkeys/registration-options', {});
    if (!challenge.ok) return showApiProblem(box, challenge);
    const response = await passkeyCeremony('create', challenge.body.options, box);
    if (!response) return;
    const result = await api('POST', '/api/v1/auth/passkeys', { challengeId: challenge.body.challengeId, response });
    if (result.ok && result.body?.session) {
      enrolment = null;
      csrfToken = result.body.session.csrfToken;
      showRecoveryCodes(result.body.recoveryCodes ?? [], () => showSignedIn(result.body.session));
    } else showApiProblem(box, result);
  });

  const enrolForm = byId('enrol-form');
  enrolForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(enrolForm, async () => {
      const code = String(new FormData(enrolForm).get('code')).replace(/\s+/g, '');
      const result = await api('POST', '/api/v1/auth/mfa/totp/confirm', { factorId: enrolment?.factorId ?? '', code });
      if (result.ok && result.body?.session) {
        enrolForm.reset();
        enrolment = null;
        csrfToken = result.body.session.csrfToken;
        showRecoveryCodes(result.body.recoveryCodes ?? [], () => showSignedIn(result.body.session));
      } else showApiError(enrolForm, result);
    });
  });

  byId('forgot-link').addEventListener('click', (event) => {
    event.preventDefault();
    showForgot();
  });
  byId('reset-again').addEventListener('click', (event) => {
    event.preventDefault();
    showForgot();
  });
  for (const link of document.querySelectorAll('.back-to-login')) {
    link.addEventListener('click', (event) => {
      event.preventDefault();
      showLogin();
    });
  }

  const forgotForm = byId('forgot-form');
  forgotForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(forgotForm, async () => {
      const result = await api('POST', '/api/v1/auth/password-reset', { email: new FormData(forgotForm).get('email') });
      if (result.ok) {
        forgotForm.reset();
        showLogin(t('linkSent'));
      } else showApiError(forgotForm, result);
    });
  });

  const resetForm = byId('reset-form');
  resetForm.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(resetForm, async () => {
      const result = await api('POST', '/api/v1/auth/password-reset/complete', { token: resetToken ?? '', newPassword: new FormData(resetForm).get('newPassword') });
      if (result.ok) {
        resetForm.reset();
        resetToken = null;
        showLogin(t('passwordSet'));
      } else showApiError(resetForm, result);
    });
  });

  const passwordForm = byId('password-form');
  passwordForm.addEventListener('submit', (event) => {
    event.preventDefault();
    byId('password-changed').hidden = true;
    submit(passwordForm, async () => {
      const data = new FormData(passwordForm);
      const result = await api('POST', '/api/v1/auth/password', { currentPassword: data.get('currentPassword'), newPassword: data.get('newPassword') });
      if (result.ok && result.body?.csrfToken) {
        // The session goes on under a new secret (a new cookie) and a new CSRF token.
        csrfToken = result.body.csrfToken;
        passwordForm.reset();
        const done = byId('password-changed');
        done.textContent = t('passwordChanged');
        done.hidden = false;
        loadNotices().catch(() => undefined);
      } else if (result.status === 401) showLogin(result.body?.error?.message);
      else showApiError(passwordForm, result);
    });
  });

  byId('notices-read').addEventListener('click', async () => {
    const result = await api('POST', '/api/v1/notices/read');
    if (result.ok) await loadNotices();
  });

  byId('sign-out').addEventListener('click', async () => {
    const box = byId('signout-error');
    box.hidden = true;
    try {
      const result = await api('POST', '/api/v1/auth/logout');
      if (!result.ok) {
        box.textContent = result.body?.error?.message ?? t('unexpected');
        box.hidden = false;
        return;
      }
      csrfToken = null;
      showLogin(t('signedOut'));
    } catch {
      box.textContent = t('network');
      box.hidden = false;
    }
  });
}

async function start() {
  translatePage();
  // The setup secret travels in the fragment, which browsers never send to a server or put in a
  // Referer. Take it into memory and drop it from the address bar and history at once.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const setupToken = location.pathname === '/setup' ? fragment.get('token') : null;
  resetToken = location.pathname === '/reset-password' ? fragment.get('token') : null;
  // A refused single sign-on comes back as /?sso_error=<code>; the code is read once and dropped.
  const ssoError = new URLSearchParams(location.search).get('sso_error');
  if (location.hash || location.search) history.replaceState(null, '', location.pathname);
  wireForms(setupToken);
  // The sign-in view may come later (after signing out); the offer is ready for it either way.
  showSignInMethods(ssoError).catch(() => undefined);

  try {
    if (location.pathname === '/setup') {
      const status = await api('GET', '/api/v1/setup');
      if (status.ok && status.body?.needed === false) return showLogin(t('setupDone'));
      return show(setupToken ? 'setup' : 'setup-missing', false);
    }
    if (location.pathname === '/reset-password') return resetToken ? show('reset', false) : showForgot();
    const session = await api('GET', '/api/v1/auth/session');
    if (session.ok && session.body?.user) return showSession(session.body);
    showLogin();
  } catch {
    byId('loading').textContent = t('network');
  }
}

start();
