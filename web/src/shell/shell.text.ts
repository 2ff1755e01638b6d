import { texts } from '../i18n/texts';

/** The frame around every signed-in page, and what many pages share. */
export const shellText = texts(
  {
    language: 'Language',
    network: 'Could not reach the server. Check the connection and try again.',
    unexpected: 'The server gave an answer this page does not understand. Try again.',
    loading: 'Loading…',
    mainNav: 'Main navigation',
    home: 'Home',
    profile: 'Profile and security',
    signOut: 'Sign out',
    signedOut: 'You have signed out.',
    userMenu: 'Account menu for {{name}}',
    notFound: 'There is nothing at this address.',
    forbidden: 'Your role does not allow this. Ask an administrator if you need it.',
    skipToContent: 'Skip to content',
    welcome: 'Welcome, {{name}}',
    welcomeIntro: 'Pick a list on the left to get started.',
  },
  {
    language: '语言',
    network: '无法连接服务器。请检查网络连接后重试。',
    unexpected: '服务器的响应无法识别，请重试。',
    loading: '正在加载…',
    mainNav: '主导航',
    home: '首页',
    profile: '个人资料与安全',
    signOut: '退出登录',
    signedOut: '您已退出登录。',
    userMenu: '{{name}} 的账户菜单',
    notFound: '此地址没有内容。',
    forbidden: '您的角色不允许此操作。如有需要，请联系管理员。',
    skipToContent: '跳到正文',
    welcome: '欢迎，{{name}}',
    welcomeIntro: '从左侧选择一个列表开始工作。',
  },
);
