DROP TABLE member_posts;
DROP TABLE members;
